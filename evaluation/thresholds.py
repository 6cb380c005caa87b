"""Per-topic decision thresholds: the grid they are chosen from, the sweep, and the tie rule."""

from __future__ import annotations

import numpy as np

from stancetag.evaluation.metrics import f1_from_counts

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def sweep(gold: np.ndarray, probabilities: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of one topic at each cut (a probability at or above the cut is on).

    One vectorised pass over all cuts; scikit-learn's precision_recall_curve gives the same points,
    but only at the distinct scores, not at the fixed grid the report and the tuning share.
    """
    gold = np.asarray(gold).astype(bool)[:, None]
    on = np.asarray(probabilities)[:, None] >= np.asarray(cuts, dtype=float)[None, :]
    tp = (on & gold).sum(axis=0).astype(float)
    fp = (on & ~gold).sum(axis=0).astype(float)
    fn = (~on & gold).sum(axis=0).astype(float)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
    return precision, recall, f1_from_counts(tp, fp, fn)


def best_cut(cuts: np.ndarray, f1: np.ndarray) -> int:
    """Index of the cut with the highest F1; ties go to the cut closest to 0.5, so a flat F1 curve
    (tiny dev sets) keeps the neutral default instead of drifting to an extreme."""
    return max(range(len(cuts)), key=lambda i: (round(float(f1[i]), 12), -abs(float(cuts[i]) - 0.5)))


def tune_thresholds(gold: np.ndarray, probabilities: np.ndarray, topics: tuple[str, ...]) -> dict[str, float]:
    """Per-topic threshold that maximises that topic's F1 on dev."""
    thresholds = {}
    for i, topic in enumerate(topics):
        _, _, f1 = sweep(gold[:, i], probabilities[:, i], THRESHOLD_GRID)
        thresholds[topic] = float(THRESHOLD_GRID[best_cut(THRESHOLD_GRID, f1)])
    return thresholds
