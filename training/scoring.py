"""Scoring a trained model on labeled data: the `stancetag metrics` computation and its table."""

from __future__ import annotations

from typing import Any

import numpy as np

from model.inference import Predictor
from training.data import Example
from training.evaluation import score


def gold_arrays(examples: list[Example], topics: tuple[str, ...], tones: tuple[str, ...]):
    gold_topics = np.array([[int(t in e.topics) for t in topics] for e in examples], dtype=int)
    gold_tones = np.array([tones.index(e.tone) for e in examples], dtype=int)
    return gold_topics, gold_tones


def evaluate_model(predictor: Predictor, examples: list[Example]) -> dict[str, Any]:
    """Metrics of the model's decisions (stored thresholds, argmax tone) on labeled sentences."""
    topics, tones = predictor.meta.topics, predictor.meta.tones
    scores = predictor.score([e.text for e in examples])
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
