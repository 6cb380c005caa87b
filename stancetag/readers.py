"""Read user files: JSONL and CSV rows with their line numbers, and articles to tag (.txt files,
rows with `text`, folders, standard input).

JSONL and CSV are read with the standard library rather than `datasets` because every bad row
must be reported by file and line (a broken JSON line, a ragged CSV row, bytes that are not
UTF-8), and because prediction must stream rows without caching whole files. Parquet, Arrow, a
.json file holding one JSON array, and folders written by `datasets`' `save_to_disk` go through
`datasets` (`tables`), with errors by row.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stancetag.errors import UserError, located
from stancetag.tables import DATASET_SUFFIXES, is_json_array, is_saved_dataset, iter_table_rows
from stancetag.text import split_sentences

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)


def check_readable_file(path: Path, what: str) -> None:
    """Fail with one line if `path` is missing, a directory or empty."""
    if path.is_dir():
        raise located(path, None, f"is a directory, expected a {what} file; pass the file itself")
    if not path.exists():
        raise located(path, None, f"no such {what} file; check the path")
    if path.stat().st_size == 0:
        raise located(path, None, f"the {what} file is empty; it needs at least one row")


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


def iter_rows(path: Path, required_csv_columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) from a JSONL or CSV file; JSONL is streamed line by line.

    Parquet, Arrow, JSON arrays and saved datasets yield (`tables.Row` number, row) instead.
    """
    suffix = path.suffix.lower()
    if is_table(path):
        if not path.exists():
            raise located(path, None, "no such data file; check the path")
        yield from iter_table_rows(path, required_csv_columns)
        return
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise located(
            path,
            None,
            f"unsupported file type {suffix or '(none)'}; use .jsonl, .csv, .parquet, .arrow, .json "
            "or a folder written by datasets' save_to_disk",
        )
    check_readable_file(path, "data")
    if suffix in JSONL_SUFFIXES:
        with path.open("rb") as stream:
            yield from iter_jsonl(path, _iter_lines_utf8(path, stream))
    else:
        yield from iter_csv(path, _decode(path, path.read_bytes()), required_csv_columns)


TEXT_SUFFIXES = (".txt",)
SUPPORTED = TEXT_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES
STDIN = "-"


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
    for item in files:
        if item == STDIN:
            yield "stdin", sys.stdin.read()
            continue
        path = Path(item)
        if path.suffix.lower() in TEXT_SUFFIXES:
            yield path.stem, _read_text(path)
            continue
        for number, row in iter_rows(path, ("text",)):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise located(path, number, 'missing or empty "text"; every row needs the text to tag')
            article = row.get("article")
            article_id = str(article) if article not in (None, "") else f"{path.name}:{number}"
            yield article_id, text
