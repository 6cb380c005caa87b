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
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stancetag.errors import UserError, located
from stancetag.tables import (
    DATASET_SUFFIXES,
    is_json_array,
    is_saved_dataset,
    iter_table_rows,
    lone_surrogate,
    surrogate_message,
)
from stancetag.text import split_sentences
from stancetag.writers import SIDECAR_SUFFIX, is_prediction_record, sidecar_path

log = logging.getLogger(__name__)

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
ROW_SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES
PARQUET_BATCH_ROWS = 1024
# Python's csv module refuses fields over 128 KiB; a whole article in one cell can be longer. The
# limit stays bounded so a quote that is never closed fails here instead of filling memory.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
# Deeper than any real row, far below Python's recursion limit: a row that loads must also be
# written back (json.dumps of a prediction record recurses once per level).
MAX_JSON_DEPTH = 100


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
    except RecursionError as err:
        raise located(path, None, f"JSON nested too deeply to read; {fix}") from err
    except OSError as err:
        raise located(path, None, f"unreadable ({err.strerror or err}); {fix}") from err


def _utf8(where: str | Path, data: bytes, fix: str) -> str:
    """`data` as text (a UTF-8 byte-order mark dropped); bytes that are not UTF-8 are an error at
    their line. Strict decoding also refuses encoded lone surrogates, which no file can be written with."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise located(where, line, f"bytes that are not UTF-8 (byte 0x{data[err.start]:02x}); {fix}") from err


def _decode(path: Path, data: bytes) -> str:
    text = _utf8(path, data, "re-save the file as UTF-8")
    if not text.strip():
        raise located(path, None, "the file holds only whitespace; it needs at least one row")
    return text


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a loaded JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _load_json_line(path: Path, number: int, line: str) -> Any:
    """One JSON value from one line; a broken, too deeply nested or unwritable (lone surrogate)
    value is an error at the line."""
    nesting_fix = f"JSON nested more than {MAX_JSON_DEPTH} levels deep; flatten the row's values"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise located(
            path, number, f"not valid JSON ({err.msg} at column {err.colno}); each line must be one JSON object"
        ) from err
    except RecursionError as err:
        raise located(path, number, nesting_fix) from err
    if line.count("[") + line.count("{") > MAX_JSON_DEPTH and json_depth(row) > MAX_JSON_DEPTH:
        raise located(path, number, nesting_fix)
    surrogate = lone_surrogate(line)
    if surrogate is not None:
        raise located(path, number, surrogate_message(surrogate[1]))
    return row


def iter_jsonl(path: Path, text_lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict]]:
    for number, line in text_lines:
        if not line.strip():
            continue
        row = _load_json_line(path, number, line)
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


def _csv_reader(text: str) -> Any:
    csv.field_size_limit(CSV_FIELD_LIMIT)  # process-wide; every reader parses with the current limit
    return csv.reader(io.StringIO(text, newline=""))


def _csv_problem(err: csv.Error) -> str:
    if "field limit" in str(err):
        return (
            f"a field longer than {CSV_FIELD_LIMIT // (1024 * 1024)} MiB in the row starting here; look for a "
            "quote that opens a field and is never closed, or split the text over several rows"
        )
    return (
        f"not valid CSV ({err}); put fields holding commas, quotes or line breaks in double quotes, "
        'and write a quote inside one as ""'
    )


def _csv_rows(path: Path, reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, cells) for every row; a csv.Error is an error at that line."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise located(path, start, _csv_problem(err)) from err
        yield start, cells
        start = reader.line_num + 1


def iter_csv(path: Path, text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    rows = _csv_rows(path, _csv_reader(text))
    first = next(rows, None)
    if first is None:
        raise located(path, 1, "no header row; the first row must name the columns")
    header = [h.strip() for h in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise located(
            path,
            1,
            f"expected the columns {list(required)}, but {missing} are missing "
            f"(found {header}); add them to the header row",
        )
    for number, cells in rows:
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
        first = next(_csv_rows(path, _csv_reader(_decode(path, path.read_bytes()))), None)
        return [h.strip() for h in first[1]] if first is not None else []
    if suffix in PARQUET_SUFFIXES:
        return list(_parquet_file(path).schema_arrow.names)
    seen: dict[str, None] = {}
    for _, row in iter_rows(path, ()):
        seen.update(dict.fromkeys(row))
    return list(seen)


TEXT_SUFFIXES = (".txt",)
SUPPORTED = TEXT_SUFFIXES + ROW_SUFFIXES
STDIN = "-"
STDIN_NAME = "<stdin>"  # how errors name standard input
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


# In an input folder: names of editor backups and swap files, and of unfinished outputs.
COPY_ENDINGS = ("~", ".swp", ".partial")
SKIPPED_NAMED = 3  # how many skipped entries the note names


class InputFile(str):
    """A file found in an input folder: its path, and where it sits under the folder
    (`under_folder`, "2020/a.txt"), which names its articles so two `a.txt` in different
    subfolders stay two articles."""

    under_folder: str

    def __new__(cls, path: str, under_folder: str) -> InputFile:
        item = super().__new__(cls, path)
        item.under_folder = under_folder
        return item

    def __reduce__(self) -> tuple:  # pickles (worker processes) as the same path and name
        return InputFile, (str(self), self.under_folder)


def _skip_reason(path: Path, relative: Path, predictions: bool) -> str | None:
    """Why a file in an input folder that looks like an input is left out, or None to read it."""
    if any(part.startswith(".") for part in relative.parts):
        return "hidden"
    if path.name.endswith(COPY_ENDINGS):
        return "an editor or unfinished copy"
    if path.name.endswith(SIDECAR_SUFFIX):
        return "a predictions sidecar"
    if not predictions and sidecar_path(path).is_file():
        return f"predictions, with a {SIDECAR_SUFFIX} beside it"
    if not predictions and _holds_predictions(path):
        return "predictions (stancetag's records, not articles)"
    return None


def _holds_predictions(path: Path) -> bool:
    """A row file that starts with a prediction record (JSONL) or predict's CSV header, even without
    its sidecar (copied on its own): reading it as articles would tag the tags."""
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        return False
    try:
        with path.open("rb") as stream:
            first = stream.readline(1 << 20).decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError:
        return False
    if suffix in CSV_SUFFIXES:
        return is_prediction_record(dict.fromkeys(next(csv.reader([first]), [])))
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and is_prediction_record(record)


def _check_name(path: Path) -> None:
    """Refuse a file name that is not UTF-8 (bytes written under another encoding): it would become
    part of an article id, and no output could hold it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", errors="backslashreplace")
        raise located(shown, None, "the file name is not UTF-8; rename the file") from None


def _walk_folder(folder: Path, predictions: bool, skipped: list[str]) -> list[InputFile]:
    """The input files under `folder`, in sorted order; what is left out is added to `skipped`.
    Files of other types (README.md, .DS_Store) are not inputs and are passed over without a note."""
    found: list[InputFile] = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        skipped.extend(f"{(base / d).relative_to(folder).as_posix()}/ (hidden)" for d in sorted(dirs) if d[0] == ".")
        dirs[:] = sorted(d for d in dirs if d[0] != ".")
        for name in names:
            path = base / name
            if path.suffix.lower() not in SUPPORTED and not name.endswith(COPY_ENDINGS):
                continue
            relative = path.relative_to(folder)
            reason = _skip_reason(path, relative, predictions)
            if reason is not None:
                skipped.append(f"{relative.as_posix()} ({reason})")
            elif path.is_file():
                _check_name(path)
                found.append(InputFile(str(path), relative.as_posix()))
    return sorted(found)


def _skipped_note(skipped: list[str]) -> str:
    named = ", ".join(skipped[:SKIPPED_NAMED])
    more = f" and {len(skipped) - SKIPPED_NAMED} more" if len(skipped) > SKIPPED_NAMED else ""
    return f"skipped {len(skipped)} file(s) or folder(s) in the input folders: {named}{more}"


def expand_inputs(inputs: list[str], *, predictions: bool = False) -> list[str]:
    """Check every input up front (so nothing is written for a typo) and expand folders.

    A folder is read recursively, in sorted order, except for what is not an article: hidden files
    and folders (a name starting with "."), editor and checkpoint copies (`.ipynb_checkpoints`,
    names ending in `~`, `.swp` or `.partial`), stancetag's own outputs (`NAME.model.json`
    sidecars, and the predictions file beside one unless `predictions=True`, as `trends` reads
    them). One log line says how many were skipped, naming a few; a file named directly is always
    read. A .txt file found in a folder is the article named by its path under the folder without
    the suffix (`news/2020/a.txt` given as `news` is article `2020/a`; `news/a.txt` is `a`), and
    rows without an `article` column are named `2020/a.jsonl:LINE`.
    """
    if not inputs:
        raise UserError("no INPUT given; pass article files, a folder, or - for standard input")
    files: list[str] = []
    skipped: list[str] = []
    for item in inputs:
        if item == STDIN:
            files.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            before = len(skipped)
            found = _walk_folder(path, predictions, skipped)
            if not found:
                note = f" ({_skipped_note(skipped[before:])})" if len(skipped) > before else ""
                raise located(path, None, f"folder holds no {', '.join(SUPPORTED)} files to tag{note}")
            files.extend(found)
            continue
        if path.suffix.lower() not in SUPPORTED:
            raise located(path, None, f"unsupported input type; use {', '.join(SUPPORTED)}, a folder or -")
        _check_name(path)
        check_readable_file(path, "input")
        files.append(item)
    if skipped:
        log.info("%s; name a file directly to read it anyway", _skipped_note(skipped))
    return files


def _read_text(path: Path) -> str:
    return _utf8(path, path.read_bytes(), "re-save the article as UTF-8")


def _read_stdin() -> str:
    """Standard input as UTF-8 text, decoded here (not by the terminal's locale) so bytes that are
    not UTF-8 are an error at their line rather than a traceback."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text-only stream (replaced by a test or an embedding program)
        return sys.stdin.read()
    return _utf8(STDIN_NAME, raw.read(), "re-encode the input as UTF-8 (e.g. iconv -f latin1 -t utf-8)")


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
            yield Document("stdin", _read_stdin(), source=STDIN)
            continue
        path = Path(item)
        name = item.under_folder if isinstance(item, InputFile) else path.name
        if path.suffix.lower() in TEXT_SUFFIXES:
            yield Document(name[: -len(path.suffix)], _read_text(path), source=str(path))
            continue
        for number, row in iter_rows(path, ("text",)):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise located(path, number, 'missing or empty "text"; every row needs the text to tag')
            article = row.get("article")
            article_id = str(article) if article not in (None, "") else f"{name}:{number}"
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
