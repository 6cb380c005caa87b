"""Writing results: formats for tagged sentences, and files that appear only when complete."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
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


class RecordWriter:
    """Writes prediction records in one of FORMATS to a stream, one record at a time."""

    def __init__(self, stream: IO[str], fmt: str, topics: tuple[str, ...], tones: tuple[str, ...]) -> None:
        self.stream, self.fmt, self.topics, self.tones = stream, fmt, topics, tones
        self._csv = None
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
