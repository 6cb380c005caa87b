"""Labeled sentences: loading, validation against the config's label sets, splits, fingerprints."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stancetag.config import LabelsConfig
from stancetag.errors import UserError, did_you_mean, located
from stancetag.readers import iter_labeled_rows
from stancetag.tables import Row

log = logging.getLogger(__name__)

TOPIC_SEPARATOR = ";"


@dataclass(frozen=True)
class Example:
    """One labeled sentence and where it came from."""

    text: str
    topics: tuple[str, ...]
    tone: str
    article: str
    source: str
    line: int
    # Optional description of where the sentence comes from (docs/labeling.md, "Data format"):
    # the voice it is written in ("wire", "opinion", ...) and its era ("2009-2012", ...).
    register: str | None = None
    era: str | None = None

    def group(self, field: str) -> str | None:
        """The value of an optional grouping field ("register" or "era"), or None where absent."""
        return getattr(self, field)


def _text_of(path: Path, number: int, row: dict) -> str:
    text = row.get("text")
    if text is None:
        raise located(path, number, 'missing "text"; every row needs the sentence in "text"')
    if not isinstance(text, str):
        raise located(path, number, f'"text" must be a string, found {type(text).__name__}')
    if not text.strip():
        raise located(path, number, '"text" is empty; remove the row or fill in the sentence')
    return text.strip()


def _topics_of(path: Path, number: int, row: dict, labels: LabelsConfig) -> tuple[str, ...]:
    raw = row.get("topics")
    if raw is None:
        raise located(path, number, 'missing "topics"; use [] (JSONL) or an empty cell (CSV) for none')
    if isinstance(raw, str) and path.suffix.lower() == ".csv":
        raw = [t.strip() for t in raw.split(TOPIC_SEPARATOR) if t.strip()]
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise located(path, number, f'"topics" must be a list of label names like ["trade"], found {raw!r}')
    for topic in raw:
        if topic not in labels.topics:
            raise located(
                path,
                number,
                f'unknown topic "{topic}"{did_you_mean(topic, list(labels.topics))} '
                f"(labels.topics in the config: {', '.join(labels.topics)})",
            )
    return tuple(t for t in labels.topics if t in raw)


def _tone_of(path: Path, number: int, row: dict, labels: LabelsConfig) -> str:
    tone = row.get("tone")
    if tone is None or (isinstance(tone, str) and not tone.strip()):
        raise located(path, number, f'missing "tone"; labeled data needs one of {", ".join(labels.tones)}')
    if not isinstance(tone, str):
        raise located(path, number, f'"tone" must be a string, found {tone!r}')
    tone = tone.strip()
    if tone not in labels.tones:
        raise located(
            path,
            number,
            f'unknown tone "{tone}"{did_you_mean(tone, list(labels.tones))} '
            f"(labels.tones in the config: {', '.join(labels.tones)})",
        )
    return tone


GROUP_FIELDS = ("register", "era")


def _group_of(path: Path, number: int, row: dict, field: str) -> str | None:
    value = row.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise located(path, number, f'"{field}" must be a non-empty string like "opinion", found {value!r}; or omit it')
    return value.strip()


def example_from_row(row: dict, labels: LabelsConfig, path: str | Path, number: int, default_article: str) -> Example:
    """Validate one labeled row (text, topics, tone, optional article/register/era) into an Example.

    Every problem is an error located at `path:number`; `stancetag import` reuses this for records
    read from annotation tools, so imported data passes exactly the checks training data does.
    """
    path = Path(path)
    text = _text_of(path, number, row)
    article = row.get("article")
    return Example(
        text=text,
        topics=_topics_of(path, number, row, labels),
        tone=_tone_of(path, number, row, labels),
        article=str(article) if article not in (None, "") else default_article,
        source=str(path),
        line=number,
        register=_group_of(path, number, row, "register"),
        era=_group_of(path, number, row, "era"),
    )


class ExampleSet:
    """Examples in order, without repeats: the same sentence twice with the same labels is skipped
    (with a warning), twice with different labels is an error naming both places."""

    def __init__(self) -> None:
        self.examples: list[Example] = []
        self._first_seen: dict[str, Example] = {}

    def add(self, example: Example) -> bool:
        """True when kept, False when it repeats an earlier example with the same labels."""
        earlier = self._first_seen.get(example.text)
        if earlier is not None:
            unit = "rows" if isinstance(example.line, Row) else "lines"
            places = (
                f"{unit} {earlier.line:d} and {example.line:d}"
                if earlier.source == example.source
                else f"{earlier.source}:{earlier.line} and here"
            )
            if (earlier.topics, earlier.tone) != (example.topics, example.tone):
                raise located(
                    example.source,
                    example.line,
                    f"the same sentence has different labels on {places}; keep one of them",
                )
            same_file = earlier.source == example.source
            first = f"{unit[:-1]} {earlier.line:d}" if same_file else f"{earlier.source}:{earlier.line}"
            log.warning("%s:%s repeats %s with the same labels; skipped", example.source, example.line, first)
            return False
        self._first_seen[example.text] = example
        self.examples.append(example)
        return True


def load_examples(path: str | Path, labels: LabelsConfig) -> list[Example]:
    """Read labeled data; every problem is an error naming the file and line (JSONL, CSV) or row
    (Parquet, Arrow, a JSON array, a saved dataset folder: read through `datasets`)."""
    path = Path(path)
    kept = ExampleSet()
    for number, row in iter_labeled_rows(path, ("text", "topics", "tone")):
        kept.add(example_from_row(row, labels, path, number, f"{path.name}:{number}"))
    return kept.examples


def check_label_coverage(examples: list[Example], labels: LabelsConfig, source: str) -> None:
    """Training needs at least one example of every configured label (else its head is untrainable)."""
    topics = {t for e in examples for t in e.topics}
    tones = {e.tone for e in examples}
    for topic in labels.topics:
        if topic not in topics:
            raise UserError(
                f'{source}: topic "{topic}" has no example; add labeled sentences for it or '
                "remove it from labels.topics in the config"
            )
    for tone in labels.tones:
        if tone not in tones:
            raise UserError(
                f'{source}: tone "{tone}" has no example; add labeled sentences for it or '
                "remove it from labels.tones in the config"
            )


def find_leaks(first: list[Example], second: list[Example]) -> list[tuple[Example, Example]]:
    """Pairs of identical sentences across two files (train/test leakage)."""
    index = {e.text: e for e in first}
    return [(index[e.text], e) for e in second if e.text in index]


def leak_message(leaks: list[tuple[Example, Example]]) -> str:
    a, b = leaks[0]
    more = f" (and {len(leaks) - 1} more)" if len(leaks) > 1 else ""
    return (
        f"{b.source}:{b.line}: the same sentence is in {a.source}:{a.line}{more}; "
        "remove it from one file so evaluation is not inflated by leakage"
    )


def split_by_article(examples: list[Example], dev_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out whole articles for dev, so sentences of one article never straddle the split."""
    articles = sorted({e.article for e in examples})
    if len(articles) < 2:
        raise UserError(
            f"{examples[0].source}: cannot hold out a dev split from a single article; add `article` ids or pass --dev"
        )
    random.Random(seed).shuffle(articles)
    n_dev = min(len(articles) - 1, max(1, math.ceil(dev_fraction * len(articles))))
    dev_articles = set(articles[:n_dev])
    train = [e for e in examples if e.article not in dev_articles]
    dev = [e for e in examples if e.article in dev_articles]
    return train, dev


def fingerprint(examples: list[Example]) -> str:
    """A stable hash of the labeled content (not of file bytes or paths)."""
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, list(e.topics), e.tone, e.article]).encode("utf-8"))
    return digest.hexdigest()[:16]


def gold_arrays(
    examples: list[Example], topics: tuple[str, ...], tones: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(n, n_topics) 0/1 topic matrix and (n,) tone indices, in the config's label order."""
    gold_topics = np.array([[int(t in e.topics) for t in topics] for e in examples], dtype=int)
    gold_topics = gold_topics.reshape(len(examples), len(topics))
    gold_tones = np.array([tones.index(e.tone) for e in examples], dtype=int)
    return gold_topics, gold_tones
