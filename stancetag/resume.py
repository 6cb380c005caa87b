"""Predictions written to `.NAME.partial` beside the output, renamed into place when complete, and
resumed exactly after an interruption.

Resume keys on what the partial file holds, not on the order of the input: the set of
(article, sentence index) pairs already written (article ids for `--level article`), so articles
whose rows are interleaved, or that repeat, are neither lost nor doubled. Beside the partial,
`.NAME.partial.json` records how it was written (format, level, model, CSV columns); resuming
with anything else is refused. A lock file (`.NAME.lock`, created exclusively, holding the pid)
keeps two runs from writing one output; the loser gets a one-line error. The partial is opened
without following links, and kept on every failure once it holds a record, so `--resume` can
continue it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stancetag.errors import UserError
from stancetag.readers import CSV_FIELD_LIMIT
from stancetag.writers import csv_original_text, csv_safe_text

log = logging.getLogger(__name__)
RESUME_HINT = "fix the cause, then run the same command with --resume"


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def identity_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial.json")


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@dataclass
class Written:
    """What an interrupted output already holds: its sentences and its articles."""

    sentences: set[tuple[str, int]] = field(default_factory=set)
    articles: set[str] = field(default_factory=set)
    records: int = 0
    header: bool = False  # a CSV partial keeps its header row

    def __bool__(self) -> bool:
        return self.records > 0 or self.header


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _place_lock(lock: Path) -> bool:
    """Create `lock` holding this pid, complete the moment it exists (a hard link of a written temp
    file, so no run ever reads it empty); False when it already exists."""
    fd, tmp = tempfile.mkstemp(prefix=f"{lock.name}.", dir=lock.parent)
    try:
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.close(fd)
        os.link(tmp, lock)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


@contextlib.contextmanager
def output_lock(path: Path, option: str = "--output") -> Iterator[None]:
    """Hold `.NAME.lock` while writing `path`; another live run holding it is a one-line error, a
    lock left by a run that no longer exists is taken over, anything else there is left alone."""
    lock = lock_path(path)
    for _ in range(2):
        if _place_lock(lock):
            break
        try:
            pid = int(lock.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            raise UserError(
                f"{option} {path}: {lock} exists and is not a stancetag lock; remove it if no run is writing {path}"
            ) from None
        if pid != os.getpid() and _process_alive(pid):
            raise UserError(
                f"{option} {path}: another stancetag run (pid {pid}) is writing it; wait for that run "
                f"or choose another {option}"
            )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # left by a run that no longer exists
    else:
        raise UserError(f"{option} {path}: could not take the lock {lock}; remove it if no run is writing {path}")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def _read_jsonl(data: bytes, whole_articles: bool) -> tuple[list[dict], int]:
    """Complete records (a line ending in a newline that parses) and the byte length holding them."""
    records, ends = [], []
    offset = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # torn by the interruption
        try:
            record = json.loads(line)
        except ValueError:
            break
        if not isinstance(record, dict) or "article" not in record:
            break
        offset += len(line)
        records.append(record)
        ends.append(offset)
    if whole_articles and records:
        last = records[-1]["article"]
        while records and records[-1]["article"] == last:
            records.pop()
            ends.pop()
    return records, (ends[-1] if ends else 0)


def _read_csv(partial: Path, data: bytes, whole_articles: bool) -> tuple[list[dict], bool]:
    """Complete CSV rows as dicts; the partial is rewritten to hold exactly them (and its header)."""
    text = data.decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a torn last row
    csv.field_size_limit(CSV_FIELD_LIMIT)
    rows = [[csv_original_text(cell) for cell in row] for row in csv.reader(io.StringIO(text, newline=""))]
    if not rows:
        partial.write_bytes(b"")
        return [], False
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    records = [dict(zip(header, r, strict=True)) for r in body]
    if whole_articles and records:
        last = records[-1].get("article")
        while records and records[-1].get("article") == last:
            records.pop()
            body.pop()
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[csv_safe_text(cell) for cell in row] for row in [header, *body]])
    with partial.open("w", encoding="utf-8", newline="") as stream:
        stream.write(buffer.getvalue())
    return records, True


def read_written(partial: Path, fmt: str, *, whole_articles: bool = False) -> Written:
    """What the partial file holds, trimmed to complete records (and, with `whole_articles`, to the
    articles before the last one written, for writers that resume whole articles only)."""
    data = partial.read_bytes()
    if fmt == "csv":
        records, header = _read_csv(partial, data, whole_articles)
    else:
        records, length = _read_jsonl(data, whole_articles)
        header = False
        with partial.open("r+b") as handle:
            handle.truncate(length)
    written = Written(records=len(records), header=header)
    for record in records:
        article = str(record["article"])
        written.articles.add(article)
        if record.get("sentence_index") not in (None, ""):
            written.sentences.add((article, int(record["sentence_index"])))
    return written


def _check_identity(path: Path, partial: Path, identity: dict[str, Any]) -> None:
    """The partial was written by the same kind of run (format, level, model, columns)."""
    recorded_path = identity_path(path)
    try:
        recorded = json.loads(recorded_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return  # written by an older stancetag; the records themselves are still checked when read
    except (OSError, ValueError) as err:
        raise UserError(f"{recorded_path}: unreadable ({err}); delete it and {partial} to start over") from err
    flags = {"format": "--format", "level": "--level", "model": "--model", "columns": "the input columns"}
    for key, flag in flags.items():
        if key in identity and recorded.get(key) != identity[key]:
            raise UserError(
                f"{partial}: was written with {flag} {recorded.get(key)!r}, this run has {identity[key]!r}; "
                f"resume with the same settings, or run without --resume and with --force to start over"
            )


def _open_partial(partial: Path, append: bool) -> IO[str]:
    """Open the partial file (or its identity) for writing without following a link put at its path."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(partial, flags, 0o644)
    except OSError as err:
        if partial.is_symlink():
            raise UserError(f"{partial}: is a symbolic link, not a partial output; remove it and run again") from err
        raise
    return os.fdopen(fd, "a" if append else "w", encoding="utf-8", newline="")


@contextlib.contextmanager
def resumable_output(
    path: Path,
    fmt: str,
    resume: bool,
    *,
    identity: dict[str, Any] | None = None,
    whole_articles: bool = False,
    force: bool = False,
) -> Iterator[tuple[IO[str], Written]]:
    """Yield (stream to the partial file, what it already holds); rename it to `path` on success.

    Without `resume`, an existing partial (an interrupted run) is refused unless `force`, so an
    hour of predictions is not thrown away by a rerun that forgot --resume.
    """
    partial, recorded = partial_path(path), identity_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        if partial.is_symlink():
            raise UserError(f"{partial}: is a symbolic link, not a partial output; remove it and run again")
        written = Written()
        if partial.exists() and resume:
            _check_identity(path, partial, identity or {})
            written = read_written(partial, fmt, whole_articles=whole_articles)
        elif partial.exists() and not force:
            raise UserError(
                f"--output {path}: an interrupted run left {partial}; add --resume to continue it, "
                "or --force to start over"
            )
        if identity is not None:
            with _open_partial(recorded, append=False) as record:
                record.write(json.dumps(identity) + "\n")
        stream = _open_partial(partial, append=bool(written))
        try:
            with stream:
                yield stream, written
        except KeyboardInterrupt:
            if _keep(partial):
                log.warning("interrupted: the predictions written so far are kept in %s; %s", partial, RESUME_HINT)
            else:
                _remove(partial, recorded)
            raise
        except Exception as err:
            if _keep(partial):
                err.add_note(f"the predictions written so far are kept in {partial}: {RESUME_HINT}")
            else:
                _remove(partial, recorded)
            raise
        try:
            os.replace(partial, path)
        except OSError as err:
            err.add_note(f"the predictions are complete in {partial}: move it to {path} yourself, or {RESUME_HINT}")
            raise
        _remove(recorded)


def _keep(partial: Path) -> bool:
    """A partial worth keeping holds at least one record (a CSV header alone is not one)."""
    try:
        with partial.open("rb") as stream:
            head = stream.read(1 << 16)
    except OSError:
        return False
    return bool(head) and (head.count(b"\n") > 1 or head.lstrip().startswith(b"{"))


def _remove(*paths: Path) -> None:
    for leftover in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
