"""The evaluation report behind `stancetag metrics`: one model, or two compared on the same sentences.

The metrics JSON keeps its original keys (`n`, `topics`, `tone`), which other tools script against,
and adds beside them: `intervals` (article-bootstrap 95% intervals), `baselines`, `calibration`,
`thresholds` (per-topic sweep and operating points), `articles` (article-level topics and tone mix)
and `errors` (the most confident mistakes). Rendering (terminal table, report.md, figures) lives in
`render` and `figures`; this module only computes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stancetag.errors import UserError
from stancetag.evaluation import bootstrap, calibration
from stancetag.evaluation.baselines import BASELINES, Outputs, TrainingData, baseline_outputs, training_data
from stancetag.evaluation.metrics import f1_from_counts, score
from stancetag.evaluation.thresholds import THRESHOLD_GRID, best_cut, sweep
from stancetag.labeled import GROUP_FIELDS, Example, find_leaks, gold_arrays, load_examples
from stancetag.model.meta import ArtifactMeta

log = logging.getLogger(__name__)

FEW_ARTICLES = 10  # below this many articles, intervals are too rough to lean on
HIGH_PRECISION = 0.9  # operating points offered besides the best-F1 threshold
HIGH_RECALL = 0.9


@dataclass(frozen=True)
class ReportOptions:
    """What the analyst asked for; checked once here so every caller gets the same errors."""

    errors: int
    resamples: int
    train_path: Path | None = None

    def __post_init__(self) -> None:
        if self.errors < 0:
            raise UserError(f"--errors {self.errors}: expected 0 or more mistakes to list")
        if self.resamples < 1:
            raise UserError(f"--bootstrap {self.resamples}: expected at least 1 resample (1000 is a good default)")
        bootstrap.check_resamples(self.resamples)


@dataclass(frozen=True)
class Gold:
    """The labeled sentences as arrays, with each sentence's article index."""

    examples: list[Example]
    topics: np.ndarray  # (n, n_topics) 0/1
    tones: np.ndarray  # (n,) tone index
    codes: np.ndarray  # (n,) article index
    articles: list[str]  # article ids, in order of first appearance

    @classmethod
    def from_examples(cls, examples: list[Example], topics: tuple[str, ...], tones: tuple[str, ...]) -> Gold:
        gold_topics, gold_tones = gold_arrays(examples, topics, tones)
        codes, articles = bootstrap.article_codes([e.article for e in examples])
        return cls(examples, gold_topics, gold_tones, codes, articles)


@dataclass
class Evaluation:
    """One system's report: the JSON, plus the arrays the figures and comparisons need."""

    name: str
    topics: tuple[str, ...]
    tones: tuple[str, ...]
    gold: Gold
    outputs: Outputs
    counts: bootstrap.ArticleCounts
    metrics: dict[str, Any]


def counts_of(gold: Gold, outputs: Outputs) -> bootstrap.ArticleCounts:
    n_tones = outputs.tone_probabilities.shape[1]
    return bootstrap.count_by_article(
        gold.topics, outputs.topic_predictions, gold.tones, outputs.tone_predictions, n_tones, gold.codes
    )


def headline_with_intervals(gold: Gold, outputs: Outputs, weights: np.ndarray) -> dict[str, dict[str, float]]:
    return bootstrap.intervals(counts_of(gold, outputs), weights)


def threshold_report(
    gold_topics: np.ndarray, probabilities: np.ndarray, thresholds: dict[str, float], topics: tuple[str, ...]
) -> dict[str, Any]:
    """Per topic: P/R/F1 at the stored threshold, along a sweep, and three operating points."""
    grid = np.asarray(THRESHOLD_GRID, dtype=float)
    per_label = {}
    for j, topic in enumerate(topics):
        cut = thresholds[topic]
        precision, recall, f1 = sweep(gold_topics[:, j], probabilities[:, j], np.append(grid, cut))
        points = [
            {"threshold": float(t), "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i])}
            for i, t in enumerate(grid)
        ]
        per_label[topic] = {
            "threshold": cut,
            "precision": float(precision[-1]),
            "recall": float(recall[-1]),
            "f1": float(f1[-1]),
            "support": int(gold_topics[:, j].sum()),
            "operating_points": _operating_points(points),
            "sweep": points,
        }
    return {"grid": [float(t) for t in grid], "per_label": per_label}


def _operating_points(points: list[dict[str, float]]) -> dict[str, dict[str, float] | None]:
    """Best F1 (the tuning's tie rule); the lowest threshold reaching the precision target; the
    highest threshold keeping the recall target. None where no threshold of the grid gets there."""
    best = points[best_cut(np.array([r["threshold"] for r in points]), np.array([r["f1"] for r in points]))]
    precise = [r for r in points if r["precision"] >= HIGH_PRECISION and r["recall"] > 0]
    recalling = [r for r in points if r["recall"] >= HIGH_RECALL]
    return {
        "best_f1": best,
        "high_precision": precise[0] if precise else None,
        "high_recall": recalling[-1] if recalling else None,
    }


def _mistake_confidence(gold: Gold, outputs: Outputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sentence: whether topics are wrong, whether tone is wrong, and how confident the most
    confident wrong decision was (a wrong topic on at p, a wrong topic off at 1 - p, a wrong tone
    at its probability)."""
    gold_on = gold.topics.astype(bool)
    pred_on = outputs.topic_predictions.astype(bool)
    wrong_topic = gold_on != pred_on
    p = outputs.topic_probabilities
    topic_conf = np.where(wrong_topic, np.where(pred_on, p, 1 - p), -1.0).max(axis=1, initial=-1.0)
    wrong_tone = outputs.tone_predictions != gold.tones
    tone_conf = np.where(wrong_tone, outputs.tone_probabilities.max(axis=1), -1.0)
    return wrong_topic.any(axis=1), wrong_tone, np.maximum(topic_conf, tone_conf)


def error_rows(
    gold: Gold, outputs: Outputs, topics: tuple[str, ...], tones: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """The `limit` most confident mistakes, most confident first (ties keep file order)."""
    topic_wrong, tone_wrong, confidence = _mistake_confidence(gold, outputs)
    wrong = np.flatnonzero(topic_wrong | tone_wrong)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    rows = []
    for rank, i in enumerate(order, start=1):
        example = gold.examples[i]
        kind = "topics and tone" if topic_wrong[i] and tone_wrong[i] else "topics" if topic_wrong[i] else "tone"
        rows.append(
            {
                "rank": rank,
                "article": example.article,
                "line": example.line,
                "text": example.text,
                "mistake": kind,
                "confidence": round(float(confidence[i]), 4),
                "gold_topics": list(example.topics),
                "predicted_topics": [t for j, t in enumerate(topics) if outputs.topic_predictions[i, j]],
                "gold_tone": example.tone,
                "predicted_tone": tones[int(outputs.tone_predictions[i])],
                "topic_scores": {t: round(float(outputs.topic_probabilities[i, j]), 4) for j, t in enumerate(topics)},
                "tone_scores": {t: round(float(outputs.tone_probabilities[i, j]), 4) for j, t in enumerate(tones)},
            }
        )
    return rows


def article_report(gold: Gold, outputs: Outputs, topics: tuple[str, ...], tones: tuple[str, ...]) -> dict[str, Any]:
    """Which topics each article contains (in any sentence) and its tone mix, predicted vs gold."""
    n_articles = len(gold.articles)
    gold_on = np.zeros((n_articles, len(topics)), dtype=bool)
    pred_on = np.zeros((n_articles, len(topics)), dtype=bool)
    np.logical_or.at(gold_on, gold.codes, gold.topics.astype(bool))
    np.logical_or.at(pred_on, gold.codes, outputs.topic_predictions.astype(bool))
    gold_mix = np.zeros((n_articles, len(tones)), dtype=int)
    pred_mix = np.zeros((n_articles, len(tones)), dtype=int)
    np.add.at(gold_mix, (gold.codes, gold.tones), 1)
    np.add.at(pred_mix, (gold.codes, outputs.tone_predictions), 1)
    tp, fp, fn = (gold_on & pred_on).sum(0), (~gold_on & pred_on).sum(0), (gold_on & ~pred_on).sum(0)
    per_article = [
        {
            "article": article,
            "sentences": int(gold_mix[a].sum()),
            "gold_topics": [t for j, t in enumerate(topics) if gold_on[a, j]],
            "predicted_topics": [t for j, t in enumerate(topics) if pred_on[a, j]],
            "gold_tones": {t: int(gold_mix[a, k]) for k, t in enumerate(tones)},
            "predicted_tones": {t: int(pred_mix[a, k]) for k, t in enumerate(tones)},
        }
        for a, article in enumerate(gold.articles)
    ]
    return {
        "n": n_articles,
        "topic_micro_f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum())),
        "topic_macro_f1": float(f1_from_counts(tp, fp, fn).mean()) if len(topics) else 0.0,
        # Articles whose most frequent predicted tone is their most frequent gold tone (ties: first tone).
        "dominant_tone_accuracy": float(np.mean(gold_mix.argmax(1) == pred_mix.argmax(1))) if n_articles else 0.0,
        "per_article": per_article,
    }


def baseline_report(
    gold: Gold,
    data: TrainingData,
    topics: tuple[str, ...],
    tones: tuple[str, ...],
    weights: np.ndarray,
) -> dict[str, Any]:
    """Each baseline's headline metrics with intervals on the same resampled articles."""
    texts = [e.text for e in gold.examples]
    out: dict[str, Any] = {"training_data": data.to_json()}
    if data.examples is not None:
        overlap = len(find_leaks(data.examples, gold.examples))
        out["training_data"]["overlap_with_scored"] = overlap
        if overlap:
            log.warning(
                "%d scored sentence(s) are also in the training data %s; scores are inflated", overlap, data.path
            )
    for name, outputs in baseline_outputs(data, texts, topics, tones).items():
        if outputs is None:
            out[name] = {"description": BASELINES[name], "available": False, "reason": data.note}
            continue
        per_label = score(
            gold.topics, outputs.topic_predictions.astype(int), gold.tones, outputs.tone_predictions, topics, tones
        )["topics"]["per_label"]
        out[name] = {
            "description": BASELINES[name],
            "available": True,
            "metrics": headline_with_intervals(gold, outputs, weights),
            "topic_f1": {t: row["f1"] for t, row in per_label.items()},
        }
    return out


def evaluate_outputs(
    name: str,
    gold: Gold,
    outputs: Outputs,
    topics: tuple[str, ...],
    tones: tuple[str, ...],
    thresholds: dict[str, float],
    *,
    weights: np.ndarray,
    seed: int,
    errors: int,
    baselines: dict[str, Any] | None = None,
) -> Evaluation:
    """The full report of one system's outputs; plain arrays in, so tests can hand-compute it."""
    metrics = score(
        gold.topics, outputs.topic_predictions.astype(int), gold.tones, outputs.tone_predictions, topics, tones
    )
    counts = counts_of(gold, outputs)
    metrics["model"] = name
    metrics["intervals"] = {
        "level": bootstrap.LEVEL,
        "resamples": int(weights.shape[0]),
        "unit": "article",
        "articles": len(gold.articles),
        "seed": seed,
        "metrics": bootstrap.intervals(counts, weights),
    }
    if baselines is not None:
        metrics["baselines"] = baselines
    metrics["calibration"] = {
        "bins": calibration.CALIBRATION_BINS,
        "topics": calibration.topic_calibration(gold.topics, outputs.topic_probabilities),
        "tone": calibration.tone_calibration(gold.tones, outputs.tone_probabilities),
    }
    for field in GROUP_FIELDS:
        groups = group_report(gold, outputs, topics, tones, field)
        if groups:
            metrics[f"by_{field}"] = groups
    metrics["thresholds"] = threshold_report(gold.topics, outputs.topic_probabilities, thresholds, topics)
    metrics["articles"] = article_report(gold, outputs, topics, tones)
    topic_wrong, tone_wrong, _ = _mistake_confidence(gold, outputs)
    metrics["errors"] = {
        "sentences_with_mistakes": int((topic_wrong | tone_wrong).sum()),
        "most_confident": error_rows(gold, outputs, topics, tones, errors),
    }
    return Evaluation(name, topics, tones, gold, outputs, counts, metrics)


def group_report(
    gold: Gold, outputs: Outputs, topics: tuple[str, ...], tones: tuple[str, ...], field: str
) -> dict[str, dict[str, Any]]:
    """The headline scores on the sentences of each register (or era), where the data records one.

    Sentences without the field are left out of this breakdown (they still count everywhere else).
    """
    values = [e.group(field) for e in gold.examples]
    out = {}
    for value in sorted({v for v in values if v is not None}):
        rows = np.array([v == value for v in values])
        scored = score(
            gold.topics[rows],
            outputs.topic_predictions[rows].astype(int),
            gold.tones[rows],
            outputs.tone_predictions[rows],
            topics,
            tones,
        )
        out[value] = {
            "n": int(rows.sum()),
            "articles": len({e.article for e, r in zip(gold.examples, rows, strict=True) if r}),
            "topic_micro_f1": scored["topics"]["micro_f1"],
            "topic_macro_f1": scored["topics"]["macro_f1"],
            "tone_accuracy": scored["tone"]["accuracy"],
            "tone_macro_f1": scored["tone"]["macro_f1"],
        }
    return out


def _load_model(folder: Path) -> tuple[Any, ArtifactMeta]:
    from stancetag.model.predictor import load_predictor

    predictor = load_predictor(folder)  # a torch model directory or its ONNX export
    return predictor, predictor.meta


def _check_same_labels(metas: list[ArtifactMeta], folders: list[Path]) -> None:
    first = metas[0]
    for meta, folder in zip(metas[1:], folders[1:], strict=True):
        if set(meta.topics) != set(first.topics) or set(meta.tones) != set(first.tones):
            raise UserError(
                f"{folder}: its labels (topics {', '.join(meta.topics)}; tones {', '.join(meta.tones)}) differ from "
                f"{folders[0]} (topics {', '.join(first.topics)}; tones {', '.join(first.tones)}); "
                "compare models trained on the same label sets"
            )


@dataclass
class MetricsRun:
    """`stancetag metrics` for one model, or for two with their paired comparison."""

    data: Path
    evaluations: list[Evaluation]
    comparison: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        if self.comparison is None:
            return {**self.evaluations[0].metrics, "data": str(self.data)}
        return {
            "data": str(self.data),
            "models": [e.metrics for e in self.evaluations],
            "comparison": self.comparison,
        }


def run_metrics(models: list[Path], data: Path, options: ReportOptions) -> MetricsRun:
    """Score one model (or two, compared) on a labeled file, with baselines from its training split."""
    if not 1 <= len(models) <= 2:
        raise UserError(f"--model given {len(models)} times: pass one model, or two to compare them")
    loaded = [_load_model(folder) for folder in models]
    metas = [meta for _, meta in loaded]
    _check_same_labels(metas, models)
    examples = load_examples(data, metas[0].config.labels)
    if not examples:
        raise UserError(f"{data}: no labeled sentences to score")
    n_articles = len({e.article for e in examples})
    if n_articles < FEW_ARTICLES:
        log.warning("%s has %d article(s): bootstrap intervals over so few articles are rough", data, n_articles)
    seed = metas[0].config.training.seed
    weights = bootstrap.resample_weights(n_articles, options.resamples, seed)
    evaluations = []
    for folder, (predictor, meta) in zip(models, loaded, strict=True):
        gold = Gold.from_examples(examples, meta.topics, meta.tones)
        scores = predictor.predict_proba([e.text for e in examples], progress_label=f"score {folder.name}")
        outputs = Outputs(
            scores.topic_probabilities, scores.tone_probabilities, predictor.decide_topics(scores.topic_probabilities)
        )
        baselines = baseline_report(gold, training_data(meta, options.train_path), meta.topics, meta.tones, weights)
        evaluations.append(
            evaluate_outputs(
                str(folder),
                gold,
                outputs,
                meta.topics,
                meta.tones,
                predictor.thresholds,
                weights=weights,
                seed=seed,
                errors=options.errors,
                baselines=baselines,
            )
        )
    comparison = compare(evaluations[0], evaluations[1], weights, seed) if len(evaluations) == 2 else None
    return MetricsRun(data, evaluations, comparison)


def compare(a: Evaluation, b: Evaluation, weights: np.ndarray, seed: int) -> dict[str, Any]:
    """Paired article bootstrap of B minus A for each headline metric."""
    return {
        "a": a.name,
        "b": b.name,
        "level": bootstrap.LEVEL,
        "resamples": int(weights.shape[0]),
        "unit": "article",
        "seed": seed,
        "metrics": bootstrap.paired_difference(a.counts, b.counts, weights),
    }
