"""Writing results: formats for tagged sentences, and files that appear only when complete."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from stancetag.paths import OutputKind, starts_with_json_keys

log = logging.getLogger(__name__)

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


def is_prediction_record(row: dict) -> bool:
    """A row `predict` wrote (JSONL record or CSV header), not an article to tag."""
    return any(str(key).startswith(("topic_score", "tone_score")) for key in row)  # *_scores or *_score_LABEL


def sidecar_path(output: Path) -> Path:
    """`OUTPUT.model.json` beside a predictions file: which model made it, with which settings."""
    return output.with_name(output.name + SIDECAR_SUFFIX)


def _has_sidecar(path: Path) -> bool:
    return sidecar_path(path).is_file()


# `predict --output`: an earlier prediction is recognised by the sidecar written beside it
PREDICTIONS_FILE = OutputKind("predictions file", folder=False, is_own=_has_sidecar)
# OUTPUT.model.json, written beside it: an earlier one names a model and its labels
SIDECAR_FILE = OutputKind("predictions sidecar", folder=False, is_own=starts_with_json_keys("model", "labels"))


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


# A cell a spreadsheet would run as a formula starts with one of = + - @ TAB CR (OWASP, "CSV
# Injection"); apostrophes before one are matched too, so `csv_original_text` can undo the escape.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Terminal escape sequences (CSI "ESC [ ... m" colours and cursor moves, OSC "ESC ] ... BEL" titles
# and links, two-byte "ESC x"), then every other C0 / DEL / C1 control character.
_TERMINAL_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]"
)
# controls, line separators, and the bidirectional overrides that reorder what a terminal shows
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACE_CONTROLS = "\t\n\r\x0b\x0c\x85\u2028\u2029"


def csv_safe_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: an apostrophe before a cell that would start a
    formula (`=HYPERLINK(...)` in a sentence, an article id or an input column). A number written
    as text ("-3.5") is left alone; a cell already made of apostrophes and then a formula character
    gets one more, so the escape is exact to undo (`csv_original_text`)."""
    if _FORMULA_START.match(text) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_original_text(cell: str) -> str:
    """The text `csv_safe_text` was given, from the cell it wrote (for reading a CSV output back)."""
    return cell[1:] if cell.startswith("'") and _FORMULA_START.match(cell) else cell


def terminal_safe_text(text: str) -> str:
    """Text with no terminal escape sequences or control characters (line breaks and tabs become
    spaces), so a sentence cannot recolour, move the cursor in or retitle the user's terminal."""
    text = _TERMINAL_ESCAPE.sub("", text)
    return _CONTROL.sub(lambda m: " " if m.group() in _SPACE_CONTROLS else "", text)


def writes_unicode(stream: IO[str]) -> bool:
    """True when `stream` can hold any character: a UTF-8/16/32 file or terminal, or an in-memory text
    stream (no encoding). An ASCII or Latin-1 standard output (PYTHONIOENCODING, a C locale) cannot."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf-")
    except LookupError:
        return False


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

    Written for whoever opens the output: in a CSV, a text cell (sentence, article id, input
    column, header) that starts with = + - @ TAB or CR gets a leading apostrophe, so a spreadsheet
    shows it instead of running it as a formula (`csv_safe_text`; numbers stay numbers); the table
    drops terminal escape sequences and control characters from sentences and article ids. On a
    stream that cannot encode every character (an ASCII standard output), JSONL escapes them
    (`\\u00e9`, still the same JSON) and the table and CSV write "?" instead, with one warning.
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
        self._narrow_encoding = None if writes_unicode(stream) else stream.encoding
        self._replaced = False

    def write(self, record: dict) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=self._narrow_encoding is not None) + "\n")
        elif self.fmt == "csv":
            self._write_csv(record)
        elif self.level == "article":
            self._write_article_table(record)
        else:
            self._write_table(record)

    def _encodable(self, text: str) -> str:
        """`text` with what the stream's encoding cannot hold replaced by "?" (warned once)."""
        if self._narrow_encoding is None:
            return text
        fitted = text.encode(self._narrow_encoding, errors="replace").decode(self._narrow_encoding)
        if fitted != text and not self._replaced:
            self._replaced = True
            log.warning(
                "%s cannot show every character (encoding %s); they are written as ?. "
                "Set PYTHONIOENCODING=utf-8 or write to a file with --output",
                getattr(self.stream, "name", "the output"),
                self._narrow_encoding,
            )
        return fitted

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

    def _csv_row(self, cells: list) -> list:
        return [self._encodable(csv_safe_text(c)) if isinstance(c, str) else c for c in cells]

    def _write_csv(self, record: dict) -> None:
        if self._csv is None:
            self._csv = csv.writer(self.stream)
        if self._csv_model is None:
            self._csv_model = "model" in record
        if self._csv_header:
            self._csv_header = False
            header = self._prediction_columns() + list(self.columns) + (["model"] if self._csv_model else [])
            self._csv.writerow(self._csv_row(header))
        self._csv.writerow(
            self._csv_row(
                self._prediction_cells(record)
                + [_cell(record.get(c)) for c in self.columns]
                + ([record.get("model", "")] if self._csv_model else [])
            )
        )

    def _write_article_table(self, record: dict) -> None:
        if not self._table_header:
            self.stream.write(f"{'article':<28}  {'sentences':>9}  {'topics (share of sentences)':<44}  tone mix\n")
            self._table_header = True
        shares = " ".join(f"{t}={record['topic_shares'][t]:.2f}" for t in self.topics)
        mix = " ".join(f"{t}={record['tone_mix'][t]:.2f}" for t in self.tones)
        article = terminal_safe_text(record["article"])
        article = article if len(article) <= 28 else article[:25] + "..."
        self.stream.write(self._encodable(f"{article:<28}  {record['sentences']:>9}  {shares:<44}  {mix}\n"))

    def _write_table(self, record: dict) -> None:
        if not self._table_header:
            self.stream.write(f"{'#':>3}  {'sentence':<72}  {'topics':<28}  {'tone':<12}  scores\n")
            self._table_header = True
        if record["article"] != self._article:
            self._article = record["article"]
            self.stream.write(self._encodable(f"== {terminal_safe_text(self._article)}\n"))
        text = terminal_safe_text(record["text"])
        text = text if len(text) <= 72 else text[:69] + "..."
        scores = " ".join(f"{t}={record['topic_scores'][t]:.2f}" for t in self.topics)
        tone_p = record["tone_scores"][record["tone"]]
        self.stream.write(
            self._encodable(
                f"{record['sentence_index']:>3}  {text:<72}  {','.join(record['topics']) or '-':<28}  "
                f"{record['tone']:<12}  {scores} | {record['tone']}={tone_p:.2f}\n"
            )
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
    """Rows as CSV text, every text cell safe to open in a spreadsheet (`csv_safe_text`)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([csv_safe_text(c) if isinstance(c, str) else c for c in row] for row in rows)
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
