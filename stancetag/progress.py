"""Progress bars on standard error for the commands that take more than a few seconds.

A bar is drawn only when standard error is a terminal (a pipe, a log file or a CI job gets none)
and `--quiet` was not given; the CLI decides once per run with `configure`, library code only asks
for a `bar`. Bars go through tqdm, whose `write` the CLI's log handler uses, so log lines never
tear a bar.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

_state: dict[str, bool] = {"quiet": False}


def configure(*, quiet: bool) -> None:
    """Called by the CLI: `quiet=True` turns every bar off for this run."""
    _state["quiet"] = quiet


def _is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def enabled() -> bool:
    return not _state["quiet"] and _is_terminal()


def bar(iterable: Iterable[Any] | None = None, *, desc: str, unit: str, total: int | None = None) -> tqdm:
    """A tqdm bar on standard error, or a silent stand-in (same interface) when bars are off."""
    return tqdm(
        iterable,
        desc=desc,
        unit=unit,
        total=total,
        file=sys.stderr,
        disable=not enabled(),
        dynamic_ncols=True,
        leave=False,
    )
