"""Calibration: tone temperature scaling fitted on dev, and reliability (ECE) of probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np

CALIBRATION_BINS = 10

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


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from the probabilities softmax(logits) (see `fit_temperature`)."""
    z = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins, and the bins themselves.

    ECE = sum over bins of (share of predictions in the bin) * |accuracy - mean confidence|.
    A probability of exactly 1.0 falls into the last bin.
    """
    confidence = np.asarray(confidence, dtype=float).ravel()
    correct = np.asarray(correct, dtype=float).ravel()
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins).astype(float)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    right_sum = np.bincount(index, weights=correct, minlength=bins)
    filled = count > 0
    mean_conf = np.divide(conf_sum, count, out=np.zeros(bins), where=filled)
    accuracy = np.divide(right_sum, count, out=np.zeros(bins), where=filled)
    total = count.sum()
    ece = float(np.sum(count * np.abs(accuracy - mean_conf)) / total) if total else 0.0
    return {
        "ece": ece,
        "n": int(total),
        "bins": [
            {
                "low": i / bins,
                "high": (i + 1) / bins,
                "count": int(count[i]),
                "confidence": float(mean_conf[i]) if filled[i] else None,
                "accuracy": float(accuracy[i]) if filled[i] else None,
            }
            for i in range(bins)
        ],
    }


def topic_calibration(gold_topics: np.ndarray, topic_probabilities: np.ndarray) -> dict[str, Any]:
    """Calibration of every (sentence, topic) probability against whether the topic is gold."""
    return reliability(topic_probabilities, gold_topics)


def tone_calibration(gold_tones: np.ndarray, tone_probabilities: np.ndarray) -> dict[str, Any]:
    """Calibration of the tone confidence (the highest probability) against being right."""
    confidence = tone_probabilities.max(axis=1)
    return reliability(confidence, tone_probabilities.argmax(axis=1) == gold_tones)
