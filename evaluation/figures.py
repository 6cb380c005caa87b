"""PNG figures of the report: tone confusion matrix, topic precision-recall curves, reliability.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly, never through
pyplot, so nothing depends on a display or on global pyplot state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, precision_recall_curve

CONFUSION_FIGURE = "tone_confusion.png"
PRECISION_RECALL_FIGURE = "precision_recall.png"
RELIABILITY_FIGURE = "reliability.png"
DPI = 110


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)


def tone_confusion(confusion: dict[str, Any], path: Path) -> None:
    """Counts in each cell; colour is the share of the gold row, so rare tones stay readable."""
    labels = confusion["labels"]
    matrix = np.array(confusion["rows_gold_columns_predicted"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    figure = Figure(figsize=(1.6 + 1.3 * len(labels), 1.2 + 1.1 * len(labels)), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j, i, f"{int(matrix[i, j])}", ha="center", va="center", color="white" if share[i, j] > 0.5 else "black"
            )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted tone")
    ax.set_ylabel("gold tone")
    ax.set_title("Tone confusion (counts; colour: share of gold row)")
    figure.colorbar(image, ax=ax, label="share of gold tone")
    _save(figure, path)


def precision_recall(
    gold_topics: np.ndarray,
    probabilities: np.ndarray,
    topics: tuple[str, ...],
    thresholds: dict[str, float],
    path: Path,
) -> None:
    """One curve per topic, with a dot at the stored threshold; topics without gold are listed."""
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = figure.add_subplot()
    missing = []
    for j, topic in enumerate(topics):
        gold = gold_topics[:, j]
        if gold.sum() == 0:
            missing.append(topic)
            continue
        precision, recall, _ = precision_recall_curve(gold, probabilities[:, j])
        ap = average_precision_score(gold, probabilities[:, j])
        (line,) = ax.step(recall, precision, where="post", label=f"{topic} (AP {ap:.2f})")
        on = probabilities[:, j] >= thresholds[topic]
        tp = float((on & (gold == 1)).sum())
        if on.any():
            ax.plot(tp / gold.sum(), tp / on.sum(), "o", color=line.get_color())
    if missing:
        ax.text(0.02, 0.02, "no gold sentences: " + ", ".join(missing), transform=ax.transAxes, fontsize=8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Topic precision-recall (dot: stored threshold)")
    if len(missing) < len(topics):
        ax.legend(loc="lower left" if not missing else "center left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(figure, path)


def _reliability_panel(ax, calibration: dict[str, Any], title: str, xlabel: str, ylabel: str) -> None:
    bins = [b for b in calibration["bins"] if b["count"]]
    width = calibration["bins"][0]["high"] - calibration["bins"][0]["low"]
    ax.bar(
        [b["low"] + width / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=width * 0.9,
        alpha=0.75,
        edgecolor="black",
        label="observed",
    )
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="black", markersize=3)
    for b in bins:  # how many predictions each bar rests on
        ax.text(b["low"] + width / 2, min(b["accuracy"], 0.92) + 0.02, str(b["count"]), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (ECE {calibration['ece']:.3f}, n={calibration['n']})")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def reliability(calibration: dict[str, Any], path: Path) -> None:
    """Observed frequency per confidence bin against the diagonal, for topics and for tone."""
    figure = Figure(figsize=(10, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    _reliability_panel(
        left, calibration["topics"], "Topics", "predicted topic probability", "share of sentences with the topic"
    )
    _reliability_panel(right, calibration["tone"], "Tone", "tone confidence (highest probability)", "accuracy")
    _save(figure, path)


def write_figures(
    metrics: dict[str, Any],
    gold_topics: np.ndarray,
    probabilities: np.ndarray,
    topics: tuple[str, ...],
    thresholds: dict[str, float],
    folder: Path,
) -> list[str]:
    """Write all figures into `folder`; returns their file names."""
    tone_confusion(metrics["tone"]["confusion"], folder / CONFUSION_FIGURE)
    precision_recall(gold_topics, probabilities, topics, thresholds, folder / PRECISION_RECALL_FIGURE)
    reliability(metrics["calibration"], folder / RELIABILITY_FIGURE)
    return [CONFUSION_FIGURE, PRECISION_RECALL_FIGURE, RELIABILITY_FIGURE]
