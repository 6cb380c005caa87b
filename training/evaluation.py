"""Scores: per-label precision/recall/F1 for topics, accuracy/macro-F1/confusion for tone."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


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


def tune_thresholds(gold: np.ndarray, probabilities: np.ndarray, topics: tuple[str, ...]) -> dict[str, float]:
    """Per-topic threshold that maximises that topic's F1 on dev.

    Ties go to the threshold closest to 0.5, so a flat F1 curve (tiny dev sets) keeps the neutral
    default instead of drifting to an extreme.
    """
    thresholds = {}
    for i, topic in enumerate(topics):
        best, best_f1 = 0.5, -1.0
        for t in sorted(THRESHOLD_GRID, key=lambda x: abs(x - 0.5)):
            f1 = f1_score(gold[:, i], probabilities[:, i] >= t, zero_division=0)
            if f1 > best_f1 + 1e-12:
                best, best_f1 = float(t), f1
        thresholds[topic] = best
    return thresholds


TEMPERATURE_GRID = np.round(np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)), 4)


def fit_temperature(gold: np.ndarray, probabilities: np.ndarray) -> float:
    """The softmax temperature that minimises dev negative log-likelihood (temperature scaling).

    Works from probabilities: log p differs from the logits by a per-row constant, which the
    softmax ignores, so softmax(log p / T) equals softmax(logits / T).
    """
    if len(gold) == 0:
        return 1.0
    log_p = np.log(np.clip(probabilities, 1e-12, 1.0))
    best, best_nll = 1.0, np.inf
    for t in TEMPERATURE_GRID:
        z = log_p / t
        z = z - z.max(axis=1, keepdims=True)
        nll = -np.mean(z[np.arange(len(gold)), gold] - np.log(np.exp(z).sum(axis=1)))
        if nll < best_nll - 1e-12:
            best, best_nll = float(t), nll
    return best
