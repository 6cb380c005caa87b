"""The stream `trends` counts: prediction records read as they are (JSONL, CSV or Parquet, from
`predict`, metadata included) or articles tagged on the way, each sentence put in its group (its
period and its values of the `--by` columns) and in its article within that group.

Prediction records are checked against the model whose error rates will correct them: the model
they name (`model` on each record, the `OUTPUT.model.json` sidecar) must be that model, and their
topic decisions must follow their scores at the thresholds in use, so that the calibration set is
tagged exactly as the stream was.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stancetag import progress
from stancetag.errors import UserError, located
from stancetag.model.predictor import Predictor
from stancetag.readers import STDIN, TEXT_SUFFIXES, iter_documents, iter_rows
from stancetag.text import split_sentences
from stancetag.writers import SIDECAR_SUFFIX, csv_original_text, is_prediction_record, sidecar_path

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month", "quarter", "year", "none")
MISSING = "(missing)"
THRESHOLD_TOLERANCE = 1e-4  # scores are written with 4 decimals


@dataclass
class Tags:
    """The model's output per sentence: topic decisions, tone, and their probabilities."""

    topic_on: np.ndarray  # (n, T) bool
    tone: np.ndarray  # (n,) tone index
    topic_p: np.ndarray  # (n, T)
    tone_p: np.ndarray  # (n, C)

    def indicators(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, L) decisions and scores of every label of `trend_labels` (topics, tones, pairs)."""
        n_tones = self.tone_p.shape[1]
        tone_on = np.eye(n_tones, dtype=bool)[self.tone]
        pairs_on = (self.topic_on[:, :, None] & tone_on[:, None, :]).reshape(len(self.tone), -1)
        pairs_p = (self.topic_p[:, :, None] * self.tone_p[:, None, :]).reshape(len(self.tone), -1)
        return np.hstack([self.topic_on, tone_on, pairs_on]), np.hstack([self.topic_p, self.tone_p, pairs_p])

    def partitions(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(predicted class, class probabilities) of each sentence-level partition."""
        c = self.tone_p.shape[1]
        out = [(self.tone, self.tone_p)]
        for t in range(self.topic_on.shape[1]):
            p = self.topic_p[:, [t]]
            out.append(
                (self.topic_on[:, t].astype(int) * c + self.tone, np.hstack([(1 - p) * self.tone_p, p * self.tone_p]))
            )
        return out


# ---------------------------------------------------------------- periods and groups


def parse_date(value: Any, where: str, column: str) -> datetime.date:
    if value is None or value == "":
        raise UserError(
            f'{where}: no "{column}"; trends over time need a date on every article: fill it in, name the date '
            "column with --date-column, or pass --period none"
        )
    text = str(value).strip()
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise UserError(
            f'{where}: "{column}" is {text!r}, not a date like 2021-03-05 (YYYY-MM-DD); fix the value or name '
            "another column with --date-column"
        ) from None


def period_of(day: datetime.date, period: str) -> tuple[str, datetime.date]:
    """(label, first day) of the period that holds `day`."""
    if period == "day":
        return day.isoformat(), day
    if period == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}", datetime.date.fromisocalendar(iso.year, iso.week, 1)
    if period == "month":
        return f"{day.year}-{day.month:02d}", day.replace(day=1)
    if period == "quarter":
        q = (day.month - 1) // 3
        return f"{day.year}-Q{q + 1}", datetime.date(day.year, 3 * q + 1, 1)
    return str(day.year), datetime.date(day.year, 1, 1)


GroupKey = tuple[str, ...]  # (period label, value of each --by column)


@dataclass
class Grouper:
    """Puts a record in its group; remembers each period's first day and the records missing a --by value."""

    period: str
    by: tuple[str, ...]
    date_column: str
    starts: dict[str, datetime.date] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    def key(self, row: dict[str, Any], where: str) -> GroupKey:
        if self.period == "none":
            label = "all"
        else:
            label, start = period_of(parse_date(row.get(self.date_column), where, self.date_column), self.period)
            self.starts[label] = start
        values = []
        for column in self.by:
            value = row.get(column)
            if value is None or value == "":
                self.missing[column] = self.missing.get(column, 0) + 1
                value = MISSING
            values.append(str(value) if not isinstance(value, (dict, list)) else json.dumps(value, sort_keys=True))
        return (label, *values)


# ---------------------------------------------------------------- the stream


@dataclass
class Stream:
    """Every sentence of the stream: its tags, its article-in-group (cluster), and the groups."""

    tags: Tags
    clusters: np.ndarray  # (n,) cluster index
    cluster_groups: np.ndarray  # (n_clusters,) group index
    groups: list[GroupKey]
    inputs: list[str]


class _Collector:
    """Gathers per-sentence tags in numpy blocks (Python lists of rows would grow too big)."""

    BLOCK = 8192

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.blocks: list[tuple[np.ndarray, ...]] = []
        self.cluster_ids: dict[tuple[GroupKey, str], int] = {}
        self.group_ids: dict[GroupKey, int] = {}
        self.cluster_groups: list[int] = []

    def add(self, key: GroupKey, article: str, topic_on, tone: int, topic_p, tone_p) -> None:
        group = self.group_ids.setdefault(key, len(self.group_ids))
        cluster = self.cluster_ids.get((key, article))
        if cluster is None:
            cluster = self.cluster_ids[(key, article)] = len(self.cluster_ids)
            self.cluster_groups.append(group)
        self.rows.append((topic_on, tone, topic_p, tone_p, cluster))
        if len(self.rows) >= self.BLOCK:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            columns = list(zip(*self.rows, strict=True))
            self.blocks.append(
                (
                    np.array(columns[0], dtype=bool),
                    np.array(columns[1], dtype=np.int64),
                    np.array(columns[2], dtype=np.float64),
                    np.array(columns[3], dtype=np.float64),
                    np.array(columns[4], dtype=np.int64),
                )
            )
            self.rows = []

    def stream(self, inputs: list[str]) -> Stream:
        self._flush()
        if not self.blocks:
            raise UserError(f"{', '.join(inputs)}: no sentences to count; give predictions or articles with text")
        parts = [np.concatenate(p) for p in zip(*self.blocks, strict=True)]
        return Stream(
            Tags(parts[0], parts[1], parts[2], parts[3]),
            parts[4],
            np.array(self.cluster_groups),
            list(self.group_ids),
            inputs,
        )


def _kind(first: dict[str, Any]) -> str:
    if is_prediction_record(first):
        return "predictions"
    if "topic_shares" in first:
        return "articles-level"
    return "articles"


def _scores(row: dict[str, Any], key: str, prefix: str, labels: tuple[str, ...], where: str) -> list[float]:
    scores = row.get(key)
    if not isinstance(scores, dict):
        scores = {k[len(prefix) :]: v for k, v in row.items() if str(k).startswith(prefix)}
    if set(scores) != set(labels):
        raise UserError(
            f"{where}: {key} names {sorted(scores)}, the model's labels are {list(labels)}; these predictions "
            "come from a model with other labels: pass that model with --model"
        )
    try:
        return [float(scores[label]) for label in labels]
    except (TypeError, ValueError):
        raise UserError(f"{where}: {key} holds a value that is not a number; the file is damaged") from None


class _PredictionReader:
    """Checks prediction records against the model whose error rates will correct them."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.topics, self.tones = predictor.meta.topics, predictor.meta.tones
        self.cut = np.array([predictor.thresholds[t] for t in self.topics])
        self.unnamed = 0

    def tags(self, row: dict[str, Any], where: str) -> tuple[list[bool], int, list[float], list[float]]:
        identity = self.predictor.identity
        made_by = row.get("model")
        if made_by in (None, ""):
            self.unnamed += 1
        elif identity is not None and str(made_by).rpartition("@")[2] != identity.sha256[:12]:
            # the fingerprint decides: the same weights in a copied or renamed folder are the same model
            raise UserError(
                f"{where}: made by model {made_by}, but the error rates would come from {identity.short} "
                f"({identity.path}); pass the model that made the predictions with --model"
            )
        topic_p = _scores(row, "topic_scores", "topic_score_", self.topics, where)
        tone_p = _scores(row, "tone_scores", "tone_score_", self.tones, where)
        topics = row.get("topics")
        if isinstance(topics, str):
            topics = [t for t in topics.split(";") if t]
        tone = row.get("tone")
        if not isinstance(topics, list) or tone not in self.tones or not set(topics) <= set(self.topics):
            raise UserError(
                f"{where}: expected `topics` (a list of {list(self.topics)}) and `tone` (one of {list(self.tones)})"
            )
        on = [t in topics for t in self.topics]
        expected = np.array(topic_p) >= self.cut
        disagree = (np.array(on) != expected) & (np.abs(np.array(topic_p) - self.cut) > THRESHOLD_TOLERANCE)
        if disagree.any():
            j = int(np.flatnonzero(disagree)[0])
            label = self.topics[j]
            raise UserError(
                f"{where}: topic {label} is {'on' if on[j] else 'off'} at score {topic_p[j]:.4f}, but the threshold "
                f"in use is {self.predictor.thresholds[label]}; the predictions were made with other --threshold "
                "values: give the same --threshold to trends"
            )
        return on, self.tones.index(tone), topic_p, tone_p


def read_stream(files: list[str], predictor: Predictor, grouper: Grouper) -> Stream:
    """Read prediction files as they are and tag article files on the way; group every sentence."""
    collector = _Collector()
    reader = _PredictionReader(predictor)
    for item in files:
        path = Path(item)
        if item == STDIN or path.suffix.lower() in TEXT_SUFFIXES:
            _tag_into(collector, grouper, predictor, [item])
            continue
        rows = iter_rows(path, ())
        if path.suffix.lower() == ".csv":  # predict's CSV escapes cells that would start a formula
            rows = ((n, {k: csv_original_text(v) if isinstance(v, str) else v for k, v in r.items()}) for n, r in rows)
        first = next(rows, None)
        if first is None:
            continue
        kind = _kind(first[1])
        if kind == "articles-level":
            raise located(
                path,
                first[0],
                "holds article-level predictions (predict --level article); trends needs the sentence "
                "records: run predict without --level article",
            )
        if kind == "articles":
            _tag_into(collector, grouper, predictor, [item])
            continue
        with progress.bar(desc=f"read {path.name}", unit="sentence") as bar:
            for number, row in _chain(first, rows):
                where = f"{path}:{number}"
                article = row.get("article")
                key = grouper.key(row, where)
                collector.add(key, str(article) if article not in (None, "") else where, *reader.tags(row, where))
                bar.update(1)
    if reader.unnamed:
        log.warning(
            "%d prediction record(s) do not name their model; they are assumed to come from %s",
            reader.unnamed,
            predictor.identity.short if predictor.identity else "the model given",
        )
    for column, count in grouper.missing.items():
        log.warning('%d record(s) have no "%s"; they are counted under %s', count, column, MISSING)
    return collector.stream(files)


def _chain(first: tuple[int, dict], rows: Iterator[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    yield first
    yield from rows


def _tag_into(collector: _Collector, grouper: Grouper, predictor: Predictor, files: list[str]) -> None:
    """Tag articles with the model (as `predict` would) and add their sentences."""

    def items():
        for d in iter_documents(files):
            where = f"{d.source}:{d.line}" if d.line is not None else d.source
            yield d.article, split_sentences(d.text), {"group": grouper.key(d.metadata, where)}

    topics, tones = predictor.meta.topics, predictor.meta.tones
    for record in predictor.tag_articles(items(), progress_label="tag"):
        collector.add(
            record["group"],
            record["article"],
            [t in record["topics"] for t in topics],
            tones.index(record["tone"]),
            [record["topic_scores"][t] for t in topics],
            [record["tone_scores"][t] for t in tones],
        )


# ---------------------------------------------------------------- sidecars


def read_sidecars(files: list[str]) -> list[dict[str, Any]]:
    """The `OUTPUT.model.json` of each prediction file that has one."""
    cards = []
    for item in files:
        path = sidecar_path(Path(item))
        if item == STDIN or not path.is_file():
            continue
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not valid JSON ({err}); delete it or write the predictions again") from err
        if not isinstance(card, dict) or not isinstance(card.get("thresholds"), dict):
            raise UserError(f"{path}: not a predictions sidecar ({SIDECAR_SUFFIX} without `thresholds`); delete it")
        cards.append({**card, "sidecar": str(path)})
    return cards


def model_of(cards: list[dict[str, Any]], default: Path) -> Path:
    """The model folder the sidecars name, when they all name the same one and it is here."""
    paths = {card.get("path") for card in cards if card.get("path")}
    if len(paths) == 1:
        (path,) = paths
        if Path(path).is_dir():
            return Path(path)
    return default


def apply_sidecars(cards: list[dict[str, Any]], predictor: Predictor) -> None:
    """Check that the sidecars name this model's weights and use the thresholds the predictions
    were made with (files made with different thresholds cannot be counted together)."""
    found: dict[str, float] | None = None
    identity = predictor.identity
    for card in cards:
        if identity is not None and card.get("sha256") and card["sha256"] != identity.sha256:
            raise UserError(
                f"{card['sidecar']}: the predictions were made by {card.get('model')} ({card.get('path')}), not by "
                f"{identity.short} ({identity.path}); pass the model that made them with --model"
            )
        thresholds = {str(k): float(v) for k, v in card["thresholds"].items()}
        if found is not None and thresholds != found:
            raise UserError(
                f"{card['sidecar']}: made with thresholds {thresholds}, another input with {found}; "
                "count predictions made with the same thresholds together"
            )
        found = thresholds
        if predictor.backend == "torch" and card.get("precision") in ("fp32", "bf16"):
            predictor.precision = card["precision"]  # score the calibration set as the stream was scored
    unknown = set(found or {}) - set(predictor.meta.topics)
    if unknown:
        raise UserError(f"{cards[0]['sidecar']}: thresholds for {sorted(unknown)}, which the model does not tag")
    predictor.thresholds.update(found or {})
