"""Read user files: JSONL, CSV and Parquet rows with their line (row) numbers, and articles to tag
(.txt files, rows with `text`, folders, standard input) with every other column of their row.

JSONL and CSV are read with the standard library rather than `datasets` because every bad row
must be reported by file and line (a broken JSON line, a ragged CSV row, bytes that are not
UTF-8), and because prediction must stream rows without caching whole files. Articles to tag in
Parquet are read with pyarrow, batch by batch (their "line" is the row number, counted from 1).
Labeled data in Parquet, Arrow, a .json file holding one JSON array, or a folder written by
`datasets`' `save_to_disk` goes through `datasets` (`tables`), which also turns ClassLabel ids
back into label names; its errors name the row.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stancetag.errors import UserError, located
from stancetag.tables import DATASET_SUFFIXES, is_json_array, is_saved_dataset, iter_table_rows
from stancetag.text import split_sentences

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
ROW_SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES
PARQUET_BATCH_ROWS = 1024


def check_readable_file(path: Path, what: str) -> None:
    """Fail with one line if `path` is missing, a directory or empty."""
    if path.is_dir():
        raise located(path, None, f"is a directory, expected a {what} file; pass the file itself")
    if not path.exists():
        raise located(path, None, f"no such {what} file; check the path")
    if path.stat().st_size == 0:
        raise located(path, None, f"the {what} file is empty; it needs at least one row")


def read_json_file(path: Path, fix: str) -> Any:
    """The JSON value in a small file the program wrote itself (a model's description, an export's
    record); a missing or damaged file is one line naming it and `fix`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise located(path, None, f"not valid JSON ({err}); {fix}") from err
    except OSError as err:
        raise located(path, None, f"unreadable ({err.strerror or err}); {fix}") from err


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise located(
            path, line, f"bytes that are not UTF-8 (byte 0x{data[err.start]:02x}); re-save the file as UTF-8"
        ) from err
    if not text.strip():
        raise located(path, None, "the file holds only whitespace; it needs at least one row")
    return text


def iter_jsonl(path: Path, text_lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for number, line in text_lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise located(
                path, number, f"not valid JSON ({err.msg} at column {err.colno}); each line must be one JSON object"
            ) from err
        if not isinstance(row, dict):
            raise located(path, number, f'expected a JSON object like {{"text": ...}}, found {type(row).__name__}')
        yield number, row


def _iter_lines_utf8(path: Path, stream: io.BufferedIOBase) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise located(path, number, "bytes that are not UTF-8; re-save the file as UTF-8") from err
        if number == 1:
            line = line.lstrip("\ufeff")
        yield number, line


def iter_csv(path: Path, text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise located(path, 1, "no header row; the first row must name the columns") from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise located(
            path,
            1,
            f"expected the columns {list(required)}, but {missing} are missing "
            f"(found {header}); add them to the header row",
        )
    row_start = reader.line_num + 1
    for cells in reader:
        number = row_start
        row_start = reader.line_num + 1
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise located(
                path,
                number,
                f"row has {len(cells)} fields but the header has {len(header)}; quote fields that contain commas",
            )
        yield number, dict(zip(header, cells, strict=False))


def is_table(path: Path) -> bool:
    """Read through `datasets`: Parquet, Arrow, a saved dataset folder, or a .json holding one JSON array."""
    suffix = path.suffix.lower()
    if suffix in DATASET_SUFFIXES or is_saved_dataset(path):
        return True
    return suffix == ".json" and path.is_file() and path.stat().st_size > 0 and is_json_array(path)


def iter_labeled_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a labeled file: table formats through `datasets` (`tables.Row` numbers), else `iter_rows`."""
    if is_table(path):
        if not path.exists():
            raise located(path, None, "no such data file; check the path")
        yield from iter_table_rows(path, required)
        return
    yield from iter_rows(path, required)


def plain_value(value: Any) -> Any:
    """A Parquet cell as a JSON-ready value: dates and times as ISO text, decimals as floats."""
    if isinstance(value, (datetime.date, datetime.time)):  # datetime.datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    return value


def _parquet_file(path: Path):
    try:
        import pyarrow.parquet as pq
    except ImportError as err:  # pyarrow is a dependency; a trimmed environment may still lack it
        raise located(path, None, "reading Parquet needs pyarrow; pip install pyarrow") from err
    try:
        return pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError subclasses for damaged files
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise located(
            path, None, f"not a readable Parquet file ({reason}); write it again or convert it to JSONL"
        ) from err


def iter_parquet(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    parquet = _parquet_file(path)
    columns = list(parquet.schema_arrow.names)
    missing = [c for c in required if c not in columns]
    if missing:
        raise located(
            path, None, f"expected the columns {list(required)}, but {missing} are missing (found {columns}); add them"
        )
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            number += 1
            yield number, {str(k): plain_value(v) for k, v in row.items()}


def iter_rows(path: Path, required_csv_columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) from a JSONL, CSV or Parquet file; JSONL and Parquet are streamed."""
    suffix = path.suffix.lower()
    if suffix not in ROW_SUFFIXES:
        raise located(path, None, f"unsupported file type {suffix or '(none)'}; use .jsonl, .csv or .parquet")
    check_readable_file(path, "data")
    if suffix in JSONL_SUFFIXES:
        with path.open("rb") as stream:
            yield from iter_jsonl(path, _iter_lines_utf8(path, stream))
    elif suffix in PARQUET_SUFFIXES:
        yield from iter_parquet(path, required_csv_columns)
    else:
        yield from iter_csv(path, _decode(path, path.read_bytes()), required_csv_columns)


def row_columns(path: Path) -> list[str]:
    """The column names of a row file, in order: the header (CSV), the schema (Parquet), or every key
    that occurs in any line (JSONL, read through once)."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        check_readable_file(path, "input")
        header = next(csv.reader(io.StringIO(_decode(path, path.read_bytes()), newline="")), [])
        return [h.strip() for h in header]
    if suffix in PARQUET_SUFFIXES:
        return list(_parquet_file(path).schema_arrow.names)
    seen: dict[str, None] = {}
    for _, row in iter_rows(path, ()):
        seen.update(dict.fromkeys(row))
    return list(seen)


TEXT_SUFFIXES = (".txt",)
SUPPORTED = TEXT_SUFFIXES + ROW_SUFFIXES
STDIN = "-"
# Columns of an input row that describe the article itself; every other column is metadata.
ARTICLE_COLUMNS = ("text", "article")


@dataclass(frozen=True)
class Document:
    """One article to tag, with every other column of its input row (date, outlet, URL, ...)."""

    article: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int | None = None


def expand_inputs(inputs: list[str]) -> list[str]:
    """Check every input up front (so nothing is written for a typo) and expand folders."""
    if not inputs:
        raise UserError("no INPUT given; pass article files, a folder, or - for standard input")
    files: list[str] = []
    for item in inputs:
        if item == STDIN:
            files.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
            if not found:
                raise located(path, None, f"folder holds no {', '.join(SUPPORTED)} files to tag")
            files.extend(found)
            continue
        if path.suffix.lower() not in SUPPORTED:
            raise located(path, None, f"unsupported input type; use {', '.join(SUPPORTED)}, a folder or -")
        check_readable_file(path, "input")
        files.append(item)
    return files


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise located(path, line, "bytes that are not UTF-8; re-save the article as UTF-8") from err


def iter_articles(files: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(article id, sentences) for every article, in input order, streamed file by file."""
    for article, text in iter_texts(files):
        yield article, split_sentences(text)


def iter_texts(files: list[str]) -> Iterator[tuple[str, str]]:
    """(article id, text) for every article (a .txt file or a row), in input order, not yet split."""
    for document in iter_documents(files):
        yield document.article, document.text


def iter_documents(files: list[str]) -> Iterator[Document]:
    """Every article (a .txt file, a row, standard input) with its row's other columns, in input order."""
    for item in files:
        if item == STDIN:
            yield Document("stdin", sys.stdin.read(), source=STDIN)
            continue
        path = Path(item)
        if path.suffix.lower() in TEXT_SUFFIXES:
            yield Document(path.stem, _read_text(path), source=str(path))
            continue
        for number, row in iter_rows(path, ("text",)):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise located(path, number, 'missing or empty "text"; every row needs the text to tag')
            article = row.get("article")
            article_id = str(article) if article not in (None, "") else f"{path.name}:{number}"
            metadata = {k: v for k, v in row.items() if k not in ARTICLE_COLUMNS}
            yield Document(article_id, text, metadata, str(path), number)


def metadata_columns(files: list[str]) -> list[str]:
    """The metadata columns the articles of `files` carry (every column but text and article), in
    first-seen order; what a CSV output needs in its header before the first row is written."""
    seen: dict[str, None] = {}
    for item in files:
        path = Path(item)
        if item == STDIN or path.suffix.lower() in TEXT_SUFFIXES:
            continue
        seen.update(dict.fromkeys(c for c in row_columns(path) if c not in ARTICLE_COLUMNS))
    return list(seen)
