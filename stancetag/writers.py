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
LEVELS = ("sentence", "article")
# Keys of a prediction record (sentence or article level). An input column with one of these names
# is kept as `input_NAME`, so metadata never overwrites a prediction.
RECORD_KEYS = (
    "article",
    "sentence_index",
    "text",
    "topics",
    "topic_scores",
    "tone",
    "tone_scores",
    "sentences",
    "topic_shares",
    "tone_mix",
    "model",
)
SIDECAR_SUFFIX = ".model.json"


def metadata_key(column: str) -> str:
    """The record key of an input column: its own name, or `input_NAME` where a record key has it."""
    return f"input_{column}" if column in RECORD_KEYS else column


def sidecar_path(output: Path) -> Path:
    """`OUTPUT.model.json` beside a predictions file: which model made it, with which settings."""
    return output.with_name(output.name + SIDECAR_SUFFIX)


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


def _cell(value: object) -> object:
    """A metadata value as a CSV cell: lists and objects as JSON, a missing value as empty."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


class RecordWriter:
    """Writes prediction records in one of FORMATS to a stream, one record at a time.

    `columns` are the metadata keys a CSV carries after the prediction columns (a CSV header is
    written before the first row, so they are known up front; see `readers.metadata_columns`),
    then `model` when the records name their model. JSONL keeps every key of every record; the
    table shows predictions only. `level="article"` writes article records (`predictor.rollup`).
    """

    def __init__(
        self,
        stream: IO[str],
        fmt: str,
        topics: tuple[str, ...],
        tones: tuple[str, ...],
        *,
        header: bool = True,
        columns: tuple[str, ...] | list[str] = (),
        level: str = "sentence",
    ) -> None:
        self.stream, self.fmt, self.topics, self.tones = stream, fmt, topics, tones
        self.columns, self.level = tuple(columns), level
        self._csv = None
        self._csv_header = header
        self._csv_model: bool | None = None
        self._table_header = False
        self._article: str | None = None

    def write(self, record: dict) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            self._write_csv(record)
        elif self.level == "article":
            self._write_article_table(record)
        else:
            self._write_table(record)

    def _prediction_columns(self) -> list[str]:
        if self.level == "article":
            return (
                ["article", "sentences", "topics"]
                + [f"topic_share_{t}" for t in self.topics]
                + [f"tone_mix_{t}" for t in self.tones]
            )
        return (
            ["article", "sentence_index", "text", "topics", "tone"]
            + [f"topic_score_{t}" for t in self.topics]
            + [f"tone_score_{t}" for t in self.tones]
        )

    def _prediction_cells(self, record: dict) -> list:
        if self.level == "article":
            return (
                [record["article"], record["sentences"], ";".join(record["topics"])]
                + [record["topic_shares"][t] for t in self.topics]
                + [record["tone_mix"][t] for t in self.tones]
            )
        return (
            [record["article"], record["sentence_index"], record["text"], ";".join(record["topics"]), record["tone"]]
            + [record["topic_scores"][t] for t in self.topics]
            + [record["tone_scores"][t] for t in self.tones]
        )

    def _write_csv(self, record: dict) -> None:
        if self._csv is None:
            self._csv = csv.writer(self.stream)
        if self._csv_model is None:
            self._csv_model = "model" in record
        if self._csv_header:
            self._csv_header = False
            self._csv.writerow(self._prediction_columns() + list(self.columns) + (["model"] if self._csv_model else []))
        self._csv.writerow(
            self._prediction_cells(record)
            + [_cell(record.get(c)) for c in self.columns]
            + ([record.get("model", "")] if self._csv_model else [])
        )

    def _write_article_table(self, record: dict) -> None:
        if not self._table_header:
            self.stream.write(f"{'article':<28}  {'sentences':>9}  {'topics (share of sentences)':<44}  tone mix\n")
            self._table_header = True
        shares = " ".join(f"{t}={record['topic_shares'][t]:.2f}" for t in self.topics)
        mix = " ".join(f"{t}={record['tone_mix'][t]:.2f}" for t in self.tones)
        article = record["article"] if len(record["article"]) <= 28 else record["article"][:25] + "..."
        self.stream.write(f"{article:<28}  {record['sentences']:>9}  {shares:<44}  {mix}\n")

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


def write_sidecar(output: Path, card: dict) -> Path:
    """Write `OUTPUT.model.json` (the model that made OUTPUT) the way every output is written: whole or not at all."""
    path = sidecar_path(output)
    with atomic_output(path) as stream:
        stream.write(render_json(card))
    return path


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
