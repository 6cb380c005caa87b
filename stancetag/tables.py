"""Rows of columnar and Hugging Face data through `datasets`: Parquet, Arrow, a JSON array, and a
folder written by `Dataset.save_to_disk` (one split of a saved `DatasetDict` is its subfolder).

JSONL and CSV stay with `readers`, which reports every problem by line; here a problem is
reported by row ("train.parquet:row 12: ..."). Rows stream from the file (`streaming=True`, no
copy in the datasets cache). Class-label columns (a `ClassLabel` tone, a list of `ClassLabel`
topics, as `seeds/export_dataset.py` writes them) come back as label names, so they are checked
against the config like any other labels.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stancetag.errors import UserError, located

DATASET_SUFFIXES = (".parquet", ".arrow")
BUILDERS = {".parquet": "parquet", ".arrow": "arrow", ".json": "json"}
SAVED_DATASET_FILES = ("dataset_info.json", "state.json")  # what `save_to_disk` writes into a folder
DATASET_DICT_FILE = "dataset_dict.json"


# A \uD800-\uDFFF escape in JSON text: `\u` preceded by an even number of backslashes (after an
# odd number the backslash is itself escaped and the rest is plain text); a high half is matched
# with the low half that completes it, if one follows.
_SURROGATE_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*(\\u[dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    r"|(?<!\\)(?:\\\\)*(\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def lone_surrogate(text: str) -> tuple[int, str] | None:
    """(offset, escape as written, e.g. "\\ud800") of the first escape in JSON text that decodes to
    half a UTF-16 surrogate pair with no other half, or None.

    Python's json module decodes such an escape to a lone surrogate, a code point no UTF-8 file or
    terminal can hold, so writing the row later would crash; pyarrow (JSON arrays read through
    `datasets`) silently drops it. Both readers refuse the row instead, naming where it is.
    """
    if "\\u" not in text:
        return None
    for match in _SURROGATE_ESCAPE.finditer(text):
        if match.group(2) is None:
            escape = match.group(1) or match.group(3)
            return match.end() - len(escape), escape
    return None


def surrogate_message(escape: str) -> str:
    return (
        f"the escape {escape} is half of a UTF-16 surrogate pair, not a character, and cannot be "
        "written to any file; replace it with the whole pair or the character itself, or delete it"
    )


class Row(int):
    """A row number (from 1) of a columnar file; it reads "row 12" where a line number reads "12"."""

    def __str__(self) -> str:
        return f"row {int(self)}"

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else int.__format__(self, spec)


def is_json_array(path: Path) -> bool:
    """A .json file holding one JSON array (read by `datasets`), not JSON Lines (read line by line)."""
    with path.open("rb") as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and (
        all((path / name).is_file() for name in SAVED_DATASET_FILES) or (path / DATASET_DICT_FILE).is_file()
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    level = logging.getLogger("datasets").level
    logging.getLogger("datasets").setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger("datasets").setLevel(level)
        if was_enabled:
            datasets.enable_progress_bars()


def _open(path: Path) -> Any:
    """A `datasets` Dataset or IterableDataset over the file or saved folder."""
    import datasets

    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            splits = list(loaded)
            raise located(
                path,
                None,
                f"a saved DatasetDict with the splits {', '.join(splits)}; pass one split's folder, "
                f"e.g. {path / splits[0]}",
            )
        return loaded
    return datasets.load_dataset(BUILDERS[path.suffix.lower()], data_files=str(path), split="train", streaming=True)


def _decoder(features: Any) -> dict[str, Any]:
    """Per column, a function turning stored class ids into label names (for ClassLabel columns)."""
    from datasets import ClassLabel

    out = {}
    for name, feature in (features or {}).items():
        inner = getattr(feature, "feature", None)  # List / Sequence of something
        if isinstance(feature, ClassLabel):
            out[name] = lambda v, f=feature: _name(f, v)
        elif isinstance(inner, ClassLabel):
            out[name] = lambda v, f=inner: [_name(f, x) for x in v] if isinstance(v, list) else v
    return out


def _name(feature: Any, value: Any) -> Any:
    """A ClassLabel id as its name; -1 (datasets' "no label") as None, so it reads as a missing label."""
    if isinstance(value, int) and not isinstance(value, bool):
        return feature.int2str(value) if value >= 0 else None
    return value


def iter_table_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[Row, dict[str, Any]]]:
    """(row number, row) for every row of a Parquet/Arrow/JSON-array file or a saved dataset folder."""
    kind = "saved dataset" if path.is_dir() else BUILDERS[path.suffix.lower()]
    if kind == "json":
        _refuse_lone_surrogates(path)
    try:
        with _quiet():
            dataset = _open(path)
            columns = list(dataset.features) if dataset.features is not None else None
            decode = _decoder(dataset.features)
    except UserError:
        raise
    except Exception as err:  # pyarrow and datasets raise many types for unreadable input
        raise located(path, None, f"not a readable {kind} file ({_first_line(err)}); check the file") from err
    if columns is not None:
        missing = [c for c in required if c not in columns]
        if missing:
            raise located(
                path,
                None,
                f"expected the columns {list(required)}, but {missing} are missing (found {columns}); add them",
            )
    rows = iter(dataset)
    number = 0
    while True:
        try:
            with _quiet():
                row = next(rows)
        except StopIteration:
            break
        except Exception as err:
            raise located(path, Row(number + 1), f"unreadable ({_first_line(err)}); check the file") from err
        number += 1
        yield Row(number), {k: decode[k](v) if k in decode else v for k, v in row.items()}
    if number == 0:
        raise located(path, None, "the data holds no rows; it needs at least one")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _refuse_lone_surrogates(path: Path) -> None:
    """A JSON array with a lone surrogate escape is an error at its line (see `lone_surrogate`)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return  # `datasets` reports the bytes that are not UTF-8
    found = lone_surrogate(text)
    if found is not None:
        offset, escape = found
        raise located(path, text.count("\n", 0, offset) + 1, surrogate_message(escape))
