"""Where a command may write: never over what stancetag did not make, never over its own input.

Every command that writes a file or folder calls `check_output` before any work, so a refusal costs
nothing and changes nothing. A path is refused (one line, exit 2) when it is an input, lies inside
an input folder being read (the next run would read it back), holds an input, is the current
folder or one above it, is a link, or already holds something that is not an earlier output of the
same kind; `--force` lifts only the last refusal, and even then the old file or folder is replaced
only once the new one is complete (writers publish by rename).

Each kind of output says how to recognise an earlier one of its kind (`OutputKind.is_own`); the
layers that write them define their kinds with the file names they own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from stancetag.errors import UserError

SNIFF_BYTES = 64 * 1024  # enough for the first record of any output this program writes


@dataclass(frozen=True)
class OutputKind:
    """A kind of output: `noun` for messages ("model folder"), a folder or a file, and how to
    recognise an earlier output of this kind that may be replaced without --force."""

    noun: str
    folder: bool
    is_own: Callable[[Path], bool]


def holds_files(*names: str) -> Callable[[Path], bool]:
    """A folder output recognised by the files it always holds."""
    return lambda folder: all((folder / name).is_file() for name in names)


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return ""
    return head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")


def first_json_keys(path: Path) -> set[str]:
    """The keys of the JSON object a file starts with (its first JSONL record, or the whole file
    when it is one small JSON object); empty when it starts with anything else."""
    line = _first_line(path)
    try:
        value = json.loads(line)
    except ValueError:
        try:
            if path.stat().st_size > 16 * SNIFF_BYTES:
                return set()
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
    return set(value) if isinstance(value, dict) else set()


def starts_with_json_keys(*keys: str) -> Callable[[Path], bool]:
    return lambda path: set(keys) <= first_json_keys(path)


def starts_with_line(*prefixes: str) -> Callable[[Path], bool]:
    return lambda path: _first_line(path).startswith(prefixes)


def line_contains(text: str) -> Callable[[Path], bool]:
    return lambda path: text in _first_line(path)


def any_of(*tests: Callable[[Path], bool]) -> Callable[[Path], bool]:
    return lambda path: any(test(path) for test in tests)


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and parent in child.parents


def check_output(
    path: Path,
    kind: OutputKind,
    *,
    option: str = "--output",
    inputs: Iterable[str | Path] = (),
    keep: Iterable[str | Path] = (),
    force: bool = False,
) -> None:
    """Refuse (UserError) an output path that would destroy an input or a file stancetag did not make.

    `inputs` are the files and folders of data the command reads (standard input, "-", is skipped):
    the output may be none of them, hold none of them, and lie inside none of them. `keep` are
    other paths it reads (a model folder) that the output may lie inside but not replace.
    """
    where = f"{option} {path}"
    if path.is_symlink():
        raise UserError(f"{where}: is a symbolic link; stancetag does not write through links, give the real path")
    target = _resolved(path)
    here = _resolved(Path.cwd())
    if kind.folder and (target == here or _inside(here, target)):
        raise UserError(f"{where}: is the current folder or one above it; give a new folder for the {kind.noun}")
    inputs = [str(item) for item in inputs if str(item) != "-"]
    for item in [*inputs, *(str(k) for k in keep)]:
        source = _resolved(Path(item))
        if target == source:
            raise UserError(f"{where}: is also an input ({item}); write the {kind.noun} somewhere else")
        if _inside(source, target):
            raise UserError(f"{where}: holds the input {item}, which replacing it would delete; choose another path")
        if item in inputs and Path(item).is_dir() and _inside(target, source):
            raise UserError(
                f"{where}: is inside the input folder {item}, so a later run would read it back as input; "
                "write it outside that folder"
            )
    _check_existing(path, kind, where, force)
    _check_writable(path, where)


def _check_existing(path: Path, kind: OutputKind, where: str, force: bool) -> None:
    if not path.exists():
        return
    if kind.folder:
        if path.is_dir() and (not any(path.iterdir()) or kind.is_own(path)):
            return
        found = "is a file" if not path.is_dir() else f"holds files that are not an earlier {kind.noun}"
    else:
        if path.is_dir():
            raise UserError(f"{where}: is a folder; give a file name for the {kind.noun}")
        if path.stat().st_size == 0 or kind.is_own(path):
            return
        found = f"is not an earlier {kind.noun}"
    if not force:
        raise UserError(
            f"{where}: already exists and {found}; choose a new path, or add --force to replace it "
            "(only once the new one is complete)"
        )


def _check_writable(path: Path, where: str) -> None:
    """The nearest existing folder on the way to `path` can take a new entry (asked now, not after the work)."""
    parent = path.parent if str(path.parent) else Path(".")
    while not parent.exists():
        if parent.is_symlink():  # a dangling link on the way
            raise UserError(f"{where}: {parent} is a broken link; give a path through real folders")
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{where}: {parent} is a file, not a folder; give a path through folders")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{where}: cannot write in {parent} (permission denied); choose a folder you can write to")
