"""Articles to tag: .txt files (one article each), JSONL/CSV rows with `text`, a folder, or stdin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from model.inference import split_sentences
from stancetag.errors import UserError, located
from training.records import CSV_SUFFIXES, JSONL_SUFFIXES, check_readable_file, iter_rows

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
