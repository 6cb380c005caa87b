"""`stancetag trends`: shares of topics, tones and topic x tone pairs per period (and per any
metadata column), raw and corrected for the model's measured error rates.

The stream is a set of prediction records (what `predict` writes, metadata included) or articles
tagged on the way. Each record falls in a group: its period (from the date column) and its values
of the `--by` columns. Per group, the raw share is what the tags say (classify and count); the
corrected share inverts the model's error rates measured on a labeled calibration set (the dev
split recorded in the model by default), see `quantify`.

What is corrected together: at sentence level the tone of a sentence is one of three classes, and
for each topic a sentence is one of six (topic on or off x tone), so a topic's share is the sum of
its three pair shares and the shares of one partition always add up. At article level an article
"has" a label when any of its sentences has it; every label is then its own yes/no question.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stancetag import progress
from stancetag.errors import UserError
from stancetag.evaluation.baselines import training_data
from stancetag.evaluation.bootstrap import LEVEL, check_resamples
from stancetag.evaluation.quantify import METHODS, AdjustedCount, Estimate, LabeledSample, Sample
from stancetag.evaluation.stream import (
    PERIODS,
    Grouper,
    GroupKey,
    Tags,
    apply_sidecars,
    model_of,
    read_sidecars,
    read_stream,
)
from stancetag.labeled import Example, find_leaks, fingerprint, gold_arrays, load_examples
from stancetag.model.meta import ArtifactMeta
from stancetag.model.predictor import Predictor

log = logging.getLogger(__name__)

UNITS = ("sentence", "article")
FEW_ARTICLES = 5  # a group with fewer articles gets a note: its interval is rough
FEW_CALIBRATION = 20  # a label with fewer calibration positives gets a note


@dataclass(frozen=True)
class TrendOptions:
    """What the analyst asked for; checked once here so every caller gets the same errors."""

    period: str = "year"
    by: tuple[str, ...] = ()
    unit: str = "sentence"
    method: str = "pacc"
    date_column: str = "date"
    resamples: int = 1000
    seed: int = 13
    level: float = LEVEL

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise UserError(f"--period {self.period!r}: choose one of {', '.join(PERIODS)}")
        if self.unit not in UNITS:
            raise UserError(f"--unit {self.unit!r}: choose sentence (share of sentences) or article")
        if self.method not in METHODS:
            raise UserError(f"--method {self.method!r}: choose pacc (probabilities) or acc (counts)")
        if self.resamples < 1:
            raise UserError(f"--bootstrap {self.resamples}: expected at least 1 resample (1000 is a good default)")
        check_resamples(self.resamples)
        if len(set(self.by)) != len(self.by):
            raise UserError(f"--by {', '.join(self.by)}: a column is given twice; give each once")


@dataclass(frozen=True)
class TrendLabel:
    """One share a row reports, and where it is read from: classes of one partition."""

    name: str  # "taiwan", "contentious", "taiwan+contentious"
    kind: str  # "topic", "tone" or "topic_tone"
    topic: str | None
    tone: str | None
    partition: int
    classes: tuple[int, ...]


def trend_labels(topics: tuple[str, ...], tones: tuple[str, ...], unit: str) -> list[TrendLabel]:
    """Topics, then tones, then topic x tone pairs. At sentence level partition 0 is the tone and
    partition 1 + t is topic t x tone (class on * n_tones + tone); at article level each label is its
    own yes/no partition (class 1: the article has it)."""
    c = len(tones)
    names = (
        [(t, "topic", t, None) for t in topics]
        + [(o, "tone", None, o) for o in tones]
        + [(f"{t}+{o}", "topic_tone", t, o) for t in topics for o in tones]
    )
    out = []
    for k, (name, kind, topic, tone) in enumerate(names):
        if unit == "article":
            out.append(TrendLabel(name, kind, topic, tone, k, (1,)))
        elif kind == "topic":
            out.append(TrendLabel(name, kind, topic, tone, 1 + topics.index(topic), tuple(range(c, 2 * c))))
        elif kind == "tone":
            out.append(TrendLabel(name, kind, topic, tone, 0, (tones.index(tone),)))
        else:
            out.append(TrendLabel(name, kind, topic, tone, 1 + topics.index(topic), (c + tones.index(tone),)))
    return out


def gold_partitions(gold_topics: np.ndarray, gold_tones: np.ndarray, n_tones: int) -> list[np.ndarray]:
    return [gold_tones] + [gold_topics[:, t] * n_tones + gold_tones for t in range(gold_topics.shape[1])]


def gold_indicators(gold_topics: np.ndarray, gold_tones: np.ndarray, n_tones: int) -> np.ndarray:
    tone_on = np.eye(n_tones, dtype=bool)[gold_tones]
    topic_on = gold_topics.astype(bool)
    pairs = (topic_on[:, :, None] & tone_on[:, None, :]).reshape(len(gold_tones), -1)
    return np.hstack([topic_on, tone_on, pairs])


def per_article_max(values: np.ndarray, clusters: np.ndarray, n_clusters: int) -> np.ndarray:
    out = np.zeros((n_clusters, values.shape[1]))
    np.maximum.at(out, clusters, values.astype(float))
    return out


def binary_partitions(hits: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Article level: for each label, (has it per the model, [1 - score, score])."""
    return [(hits[:, k].astype(int), np.stack([1 - scores[:, k], scores[:, k]], axis=1)) for k in range(hits.shape[1])]


# ---------------------------------------------------------------- the calibration set


@dataclass(frozen=True)
class Calibration:
    """Labeled sentences the model's error rates are measured on, and where they came from."""

    examples: list[Example]
    source: str
    origin: str  # "the model's dev split" or "--calibration-data"

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "origin": self.origin,
            "sentences": len(self.examples),
            "articles": len({e.article for e in self.examples}),
            "fingerprint": fingerprint(self.examples),
        }


def load_calibration(meta: ArtifactMeta, path: Path | None) -> Calibration:
    """--calibration-data, else the dev split the model recorded (its file, or the articles held out
    of its training file); warns when the sentences differ from what the model recorded or were
    trained on (error rates on training sentences look better than they are)."""
    labels = meta.config.labels
    if path is not None:
        calibration = Calibration(load_examples(path, labels), str(path), "--calibration-data")
    else:
        dev = meta.data.get("dev") or {}
        recorded = dev.get("path") or dev.get("held_out_from")
        if not recorded:
            raise UserError(
                "the model records no dev split to measure its error rates on; pass --calibration-data PATH "
                "(labeled JSONL/CSV the model was not trained on)"
            )
        if not Path(recorded).is_file():
            raise UserError(
                f"{recorded}: the model's dev split (data.dev in its stancetag.json) is not here; run from the folder "
                "the model was trained in, or pass --calibration-data PATH (labeled sentences it was not trained on)"
            )
        examples = load_examples(recorded, labels)
        if not dev.get("path"):
            held_out = set(dev.get("articles") or [])
            examples = [e for e in examples if e.article in held_out]
        if dev.get("fingerprint") and examples and fingerprint(examples) != dev["fingerprint"]:
            log.warning(
                "%s: the sentences differ from the dev split the model recorded; error rates are measured on them as "
                "they are now",
                recorded,
            )
        calibration = Calibration(examples, str(recorded), "the model's dev split")
    if not calibration.examples:
        raise UserError(f"{calibration.source}: no labeled sentences to measure the model's error rates on")
    trained_on = training_data(meta)
    if trained_on.examples is not None:
        leaks = find_leaks(trained_on.examples, calibration.examples)
        if leaks:
            log.warning(
                "%d calibration sentence(s) of %s are in the model's training data: the model looks better on them "
                "than it is, so the correction is too small; calibrate on held-out sentences",
                len(leaks),
                calibration.source,
            )
    return calibration


# ---------------------------------------------------------------- the computation


@dataclass
class TrendResult:
    rows: list[dict[str, Any]]
    options: TrendOptions
    labels: list[TrendLabel]
    topics: tuple[str, ...]
    tones: tuple[str, ...]
    summary: dict[str, Any]


def _items(tags: Tags, clusters: np.ndarray, n_clusters: int, unit: str):
    """Per unit: (partitions [(predicted, probabilities)], item -> cluster index)."""
    if unit == "sentence":
        return tags.partitions(), clusters
    hits, scores = tags.indicators()
    return binary_partitions(
        per_article_max(hits, clusters, n_clusters), per_article_max(scores, clusters, n_clusters)
    ), np.arange(n_clusters)


def calibration_rates(calibration: Calibration, predictor: Predictor, unit: str) -> tuple[list[LabeledSample], dict]:
    """The calibration set scored by the model, as one LabeledSample per partition, and the plain
    error rates of every label (tagged when it is there / when it is not) for the summary."""
    meta = predictor.meta
    scores = predictor.predict_proba([e.text for e in calibration.examples], progress_label="calibrate")
    tags = Tags(
        predictor.decide_topics(scores.topic_probabilities),
        scores.tone_probabilities.argmax(axis=1),
        scores.topic_probabilities.astype(float),
        scores.tone_probabilities.astype(float),
    )
    gold_topics, gold_tones = gold_arrays(calibration.examples, meta.topics, meta.tones)
    codes = {a: i for i, a in enumerate(dict.fromkeys(e.article for e in calibration.examples))}
    clusters = np.array([codes[e.article] for e in calibration.examples])
    gold_on = gold_indicators(gold_topics, gold_tones, len(meta.tones))
    hits, _ = tags.indicators()
    partitions, item_clusters = _items(tags, clusters, len(codes), unit)
    if unit == "sentence":
        golds = gold_partitions(gold_topics, gold_tones, len(meta.tones))
    else:
        gold_on = per_article_max(gold_on, clusters, len(codes)).astype(bool)
        hits = per_article_max(hits, clusters, len(codes)).astype(bool)
        golds = [gold_on[:, k].astype(int) for k in range(gold_on.shape[1])]
    samples = [
        LabeledSample.from_items(gold, predicted, probabilities, item_clusters)
        for gold, (predicted, probabilities) in zip(golds, partitions, strict=True)
    ]
    labels = trend_labels(meta.topics, meta.tones, unit)
    rates = {}
    for k, label in enumerate(labels):
        positive, tagged = gold_on[:, k], hits[:, k]
        rates[label.name] = {
            "positives": int(positive.sum()),
            "tagged_when_present": float(tagged[positive].mean()) if positive.any() else None,
            "tagged_when_absent": float(tagged[~positive].mean()) if (~positive).any() else None,
            "share": float(positive.mean()),
            "tagged_share": float(tagged.mean()),
        }
    return samples, rates


def compute_trends(
    files: list[str], predictor: Predictor, calibration: Calibration, options: TrendOptions
) -> TrendResult:
    """Raw and corrected shares per group; `predictor` tags article inputs and scores the calibration set."""
    meta = predictor.meta
    grouper = Grouper(options.period, options.by, options.date_column)
    stream = read_stream(files, predictor, grouper)
    labels = trend_labels(meta.topics, meta.tones, options.unit)
    calibration_samples, rates = calibration_rates(calibration, predictor, options.unit)
    estimators = [
        AdjustedCount(options.method, resamples=options.resamples, seed=options.seed, level=options.level).fit(sample)
        for sample in calibration_samples
    ]
    order = sorted(range(len(stream.groups)), key=lambda g: _sort_key(stream.groups[g], grouper))
    rows = []
    n_clusters = len(stream.cluster_groups)
    partitions, item_clusters = _items(stream.tags, stream.clusters, n_clusters, options.unit)
    item_groups = stream.cluster_groups[item_clusters]
    by_group = np.argsort(item_groups, kind="stable")  # the items of group g: by_group[first[g]:last[g]]
    first = np.searchsorted(item_groups[by_group], np.arange(len(stream.groups)))
    last = np.searchsorted(item_groups[by_group], np.arange(len(stream.groups)), side="right")
    sentences_per_group = np.bincount(stream.cluster_groups[stream.clusters], minlength=len(stream.groups))
    with progress.bar(desc="trends", unit="group", total=len(order)) as bar:
        for g in order:
            items = by_group[first[g] : last[g]]
            local = np.unique(item_clusters[items], return_inverse=True)[1]
            estimates = [
                estimator.estimate(Sample.from_items(predicted[items], probabilities[items], local), stream_seed=g)
                for estimator, (predicted, probabilities) in zip(estimators, partitions, strict=True)
            ]
            rows.extend(
                _rows(stream.groups[g], grouper, options, labels, estimates, rates, int(sentences_per_group[g]))
            )
            bar.update(1)
    summary = {
        "model": predictor.identity.short if predictor.identity else None,
        "model_path": predictor.identity.path if predictor.identity else None,
        "method": options.method,
        "unit": options.unit,
        "period": options.period,
        "by": list(options.by),
        "date_column": options.date_column,
        "resamples": options.resamples,
        "level": options.level,
        "seed": options.seed,
        "thresholds": dict(predictor.thresholds),
        "inputs": files,
        "sentences": int(len(stream.clusters)),
        "articles": int(len(stream.cluster_groups)),
        "groups": len(stream.groups),
        "calibration": {**calibration.describe(), "labels": rates},
    }
    return TrendResult(rows, options, labels, meta.topics, meta.tones, summary)


def _sort_key(key: GroupKey, grouper: Grouper) -> tuple:
    start = grouper.starts.get(key[0], datetime.date.min)
    return (start, key[0], *key[1:])


def _rows(key, grouper, options, labels, estimates: list[Estimate], rates, sentences: int) -> list[dict[str, Any]]:
    start = grouper.starts.get(key[0])
    out = []
    for label in labels:
        estimate = estimates[label.partition]
        share = estimate.share(label.classes)
        notes = []
        if estimate.articles < FEW_ARTICLES:
            notes.append(f"{estimate.articles} article(s): rough interval")
        positives = rates[label.name]["positives"]
        if positives < FEW_CALIBRATION:
            notes.append(f"{positives} calibration {options.unit}(s) with this label: rough correction")
        out.append(
            {
                "period": key[0],
                "period_start": start.isoformat() if start else "",
                **dict(zip(options.by, key[1:], strict=True)),
                "unit": options.unit,
                "label": label.name,
                "kind": label.kind,
                "topic": label.topic or "",
                "tone": label.tone or "",
                "articles": estimate.articles,
                "sentences": sentences,
                "raw_share": round(share["raw"], 4),
                "raw_low": round(share["raw_low"], 4),
                "raw_high": round(share["raw_high"], 4),
                "corrected_share": _round(share["corrected"]),
                "corrected_low": _round(share["low"]),
                "corrected_high": _round(share["high"]),
                "method": options.method,
                "note": "; ".join(notes),
            }
        )
    return out


def _round(value: float) -> float | None:
    return round(value, 4) if np.isfinite(value) else None


def prepare(files: list[str], model: Path | None, default_model: Path, calibration_data: Path | None):
    """The model (the one --model names, else the one the predictions' sidecars name, else the
    default) with the thresholds the predictions were made with, and the calibration set."""
    from stancetag.model.predictor import load_predictor

    cards = read_sidecars(files)
    predictor = load_predictor(model if model is not None else model_of(cards, default_model))
    apply_sidecars(cards, predictor)
    return predictor, load_calibration(predictor.meta, calibration_data)
