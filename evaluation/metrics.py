"""Metrics of decisions against gold labels: per-topic precision, recall and F1; tone accuracy,
macro-F1 and confusion."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from stancetag.labeled import Example, gold_arrays
from stancetag.model.predictor import Predictor


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2TP / (2TP + FP + FN), and 0 where a label never occurs (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=float), where=denominator > 0)


def topic_scores(gold: np.ndarray, predicted: np.ndarray, topics: tuple[str, ...]) -> dict[str, Any]:
    """gold, predicted: (n, n_topics) 0/1 arrays."""
    p, r, f, s = precision_recall_fscore_support(gold, predicted, average=None, zero_division=0)
    micro = f1_score(gold, predicted, average="micro", zero_division=0)
    macro = f1_score(gold, predicted, average="macro", zero_division=0)
    return {
        "micro_f1": float(micro),
        "macro_f1": float(macro),
        "per_label": {
            t: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, t in enumerate(topics)
        },
    }


def tone_scores(gold: np.ndarray, predicted: np.ndarray, tones: tuple[str, ...]) -> dict[str, Any]:
    """gold, predicted: (n,) arrays of tone indices."""
    labels = list(range(len(tones)))
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, average=None, zero_division=0)
    macro = f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
    matrix = confusion_matrix(gold, predicted, labels=labels)
    return {
        "accuracy": float(np.mean(gold == predicted)) if len(gold) else 0.0,
        "macro_f1": float(macro),
        "per_label": {
            t: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, t in enumerate(tones)
        },
        "confusion": {"labels": list(tones), "rows_gold_columns_predicted": matrix.tolist()},
    }


def score(
    gold_topics: np.ndarray,
    predicted_topics: np.ndarray,
    gold_tones: np.ndarray,
    predicted_tones: np.ndarray,
    topics: tuple[str, ...],
    tones: tuple[str, ...],
) -> dict[str, Any]:
    """The metrics JSON shape shared by `train` (dev) and `metrics`."""
    return {
        "n": int(len(gold_tones)),
        "topics": topic_scores(gold_topics, predicted_topics, topics),
        "tone": tone_scores(gold_tones, predicted_tones, tones),
    }


def headline(metrics: dict[str, Any]) -> float:
    """The single number early stopping maximises: mean of topic and tone macro F1."""
    return (metrics["topics"]["macro_f1"] + metrics["tone"]["macro_f1"]) / 2


def evaluate_predictor(predictor: Predictor, examples: list[Example]) -> dict[str, Any]:
    """Metrics of the model's decisions (stored thresholds, argmax tone) on labeled sentences."""
    topics, tones = predictor.meta.topics, predictor.meta.tones
    scores = predictor.predict_proba([e.text for e in examples])
    gold_topics, gold_tones = gold_arrays(examples, topics, tones)
    predicted = predictor.decide_topics(scores.topic_probabilities).astype(int)
    return score(gold_topics, predicted, gold_tones, scores.tone_probabilities.argmax(axis=1), topics, tones)


def metrics_table(metrics: dict[str, Any]) -> str:
    """Plain-text report of the metrics JSON, for terminals and the README."""
    lines = [f"sentences: {metrics['n']}", "", "topics"]
    lines.append(f"  {'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, row in metrics["topics"]["per_label"].items():
        lines.append(
            f"  {label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10d}"
        )
    lines.append(f"  micro F1 {metrics['topics']['micro_f1']:.3f}   macro F1 {metrics['topics']['macro_f1']:.3f}")
    tone = metrics["tone"]
    lines += ["", "tone", f"  {'label':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, row in tone["per_label"].items():
        lines.append(
            f"  {label:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10d}"
        )
    lines.append(f"  accuracy {tone['accuracy']:.3f}   macro F1 {tone['macro_f1']:.3f}")
    labels = tone["confusion"]["labels"]
    lines += [
        "",
        "  confusion (rows: gold, columns: predicted)",
        "  " + " " * 14 + "".join(f"{x[:12]:>13}" for x in labels),
    ]
    for label, row in zip(labels, tone["confusion"]["rows_gold_columns_predicted"], strict=False):
        lines.append(f"  {label[:12]:<14}" + "".join(f"{v:>13d}" for v in row))
    return "\n".join(lines) + "\n"
