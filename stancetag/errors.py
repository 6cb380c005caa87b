"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from pathlib import Path


class UserError(ValueError):
    """A problem with the user's input, config or model: message says what, where and how to fix."""


def located(path: str | Path, line: int | None, message: str) -> UserError:
    """An error pinned to a file (and line or row) so the user can jump straight to it."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return UserError(f"{where}: {message}")


def did_you_mean(value: str, choices: list[str]) -> str:
    """A ` — did you mean "x"?` hint for a misspelled label or key, or an empty string."""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f' — did you mean "{close[0]}"?' if close else ""
