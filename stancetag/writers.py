"""Writing results: formats for tagged sentences, and files that appear only when complete."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

FORMATS = ("jsonl", "table", "csv")


@contextlib.contextmanager
def atomic_output(path: Path | None) -> Iterator[IO[str]]:
    """Yield a text stream; for a file, write a temporary sibling and rename it on success only."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _completed_articles(partial: Path, fmt: str) -> tuple[set[str], int]:
    """Articles fully written to an interrupted output, and the byte length that holds exactly them.

    The last article in the file may have been cut off mid-write, so it is dropped and redone.
    """
    data = partial.read_bytes()
    lines = data.splitlines(keepends=True)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline="")))
        if len(rows) <= 1:
            return set(), 0
        articles = [r[0] for r in rows[1:] if r]
        keep_articles = set(articles) - {articles[-1]}
        # CSV rows can span lines (quoted newlines): re-serialise the kept rows instead of slicing.
        kept = [r for r in rows[1:] if r and r[0] in keep_articles]
        buffer = io.StringIO()
        csv.writer(buffer).writerows([rows[0], *kept])
        partial.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        return keep_articles, len(buffer.getvalue().encode("utf-8"))
    records = []
    for line in lines:
        try:
            records.append(json.loads(line)["article"])
        except (ValueError, KeyError, TypeError):
            break  # a torn last line
    if not records:
        return set(), 0
    last = records[-1]
    keep = [a for a in records if a != last]
    length = sum(len(lines[i]) for i in range(len(keep)))
    return set(keep), length


@contextlib.contextmanager
def resumable_output(path: Path, fmt: str, resume: bool) -> Iterator[tuple[IO[str], set[str]]]:
    """Write to `.NAME.partial` beside `path` and rename it into place when complete.

    An error in the input removes the partial file (nothing half-written is left); an interrupt
    (Ctrl-C, kill) keeps it, and `resume=True` then continues after the articles already written.
    """
    partial = partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    if resume and partial.exists():
        done, length = _completed_articles(partial, fmt)
        with partial.open("r+b") as handle:
            handle.truncate(length)
        mode = "a"
    else:
        mode = "w"
    try:
        with partial.open(mode, encoding="utf-8", newline="") as stream:
            yield stream, done
        os.replace(partial, path)
    except KeyboardInterrupt:
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


class RecordWriter:
    """Writes prediction records in one of FORMATS to a stream, one record at a time."""

    def __init__(
        self, stream: IO[str], fmt: str, topics: tuple[str, ...], tones: tuple[str, ...], *, header: bool = True
    ) -> None:
        self.stream, self.fmt, self.topics, self.tones = stream, fmt, topics, tones
        self._csv = None
        self._csv_header = header
        self._table_header = False
        self._article: str | None = None

    def write(self, record: dict) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self._write_csv(record)
        else:
            self._write_table(record)

    def _write_csv(self, record: dict) -> None:
        if self._csv is None:
            self._csv = csv.writer(self.stream)
        if self._csv_header:
            self._csv_header = False
            self._csv.writerow(
                ["article", "sentence_index", "text", "topics", "tone"]
                + [f"topic_score_{t}" for t in self.topics]
                + [f"tone_score_{t}" for t in self.tones]
            )
        self._csv.writerow(
            [record["article"], record["sentence_index"], record["text"], ";".join(record["topics"]), record["tone"]]
            + [record["topic_scores"][t] for t in self.topics]
            + [record["tone_scores"][t] for t in self.tones]
        )

    def _write_table(self, record: dict) -> None:
        if not self._table_header:
            self.stream.write(f"{'#':>3}  {'sentence':<72}  {'topics':<28}  {'tone':<12}  scores\n")
            self._table_header = True
        if record["article"] != self._article:
            self._article = record["article"]
            self.stream.write(f"== {self._article}\n")
        text = record["text"]
        text = text if len(text) <= 72 else text[:69] + "..."
        scores = " ".join(f"{t}={record['topic_scores'][t]:.2f}" for t in self.topics)
        tone_p = record["tone_scores"][record["tone"]]
        self.stream.write(
            f"{record['sentence_index']:>3}  {text:<72}  {','.join(record['topics']) or '-':<28}  "
            f"{record['tone']:<12}  {scores} | {record['tone']}={tone_p:.2f}\n"
        )


def render_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def publish_directory(staging: Path, destination: Path) -> None:
    """Move a finished staging directory into place, replacing any previous model atomically enough:
    the old directory is renamed aside first and removed only after the new one is in place."""
    backup = None
    if destination.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
        os.rmdir(backup)
        os.replace(destination, backup)
    os.replace(staging, destination)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def staging_directory(destination: Path) -> Path:
    """A fresh temporary directory beside `destination` (same file system, so rename is atomic)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
