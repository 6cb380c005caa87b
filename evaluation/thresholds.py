"""Per-topic decision thresholds: the grid they are chosen from and the dev tuning rule."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


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
