"""Baselines scored on the same sentences as the model: what the model must beat to be worth it.

Both baselines learn from the model's own training split, which the artifact records by path and
fingerprint (`data.train` in stancetag.json). The file is re-read, the dev articles that were held
out of it are dropped again, and the fingerprint must match, so a baseline never learns from
different data than the model did without the report saying so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from stancetag.errors import UserError
from stancetag.labeled import Example, fingerprint, gold_arrays, load_examples
from stancetag.model.meta import ArtifactMeta

log = logging.getLogger(__name__)

BASELINES = {
    "majority": "majority tone, empty topic set",
    "tfidf_logreg": "TF-IDF + logistic regression",
}


@dataclass(frozen=True)
class Outputs:
    """A system's scores on the evaluated sentences, and its decisions."""

    topic_probabilities: np.ndarray  # (n, n_topics)
    tone_probabilities: np.ndarray  # (n, n_tones)
    topic_predictions: np.ndarray  # (n, n_topics) bool

    @property
    def tone_predictions(self) -> np.ndarray:
        return self.tone_probabilities.argmax(axis=1)


@dataclass(frozen=True)
class TrainingData:
    """The model's training split, or why it could not be had."""

    path: str | None
    examples: list[Example] | None
    note: str  # one line for the report: where the data came from, or why it is unavailable

    @property
    def available(self) -> bool:
        return self.examples is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "available": self.available,
            "n": len(self.examples) if self.examples is not None else None,
            "note": self.note,
        }


def _drop_held_out(examples: list[Example], meta: ArtifactMeta, path: str) -> list[Example]:
    dev = meta.data.get("dev") or {}
    held_out = dev.get("articles") or []
    if dev.get("held_out_from") and held_out and Path(dev["held_out_from"]) == Path(path):
        dropped = set(held_out)
        return [e for e in examples if e.article not in dropped]
    return examples


def training_data(meta: ArtifactMeta, override: Path | None = None) -> TrainingData:
    """Re-load the training split the artifact records (or `override`), checking its fingerprint."""
    recorded = meta.data.get("train") or {}
    expected = recorded.get("fingerprint")
    path = str(override) if override is not None else recorded.get("path")
    if path is None:
        return TrainingData(None, None, "unavailable: the model does not record its training data; pass --train PATH")
    if not Path(path).is_file():
        fix = "check --train" if override is not None else "pass --train PATH"
        return TrainingData(path, None, f"unavailable: training data {path} not found; {fix}")
    try:
        examples = _drop_held_out(load_examples(path, meta.config.labels), meta, path)
    except UserError as err:
        return TrainingData(path, None, f"unavailable: training data unreadable ({err})")
    if not examples:
        return TrainingData(path, None, f"unavailable: training data {path} holds no sentences")
    found = fingerprint(examples)
    if override is None and expected and found != expected:
        return TrainingData(
            path,
            None,
            f"unavailable: training data {path} changed since the model was trained "
            f"(fingerprint {found}, model trained on {expected}); pass --train PATH to use it anyway",
        )
    if found == expected:
        note = f"trained on the model's training split: {path} ({len(examples)} sentences, fingerprint {found})"
    else:
        note = f"trained on {path} given with --train ({len(examples)} sentences; not the model's recorded split)"
    return TrainingData(path, examples, note)


def majority(train: list[Example], n_eval: int, topics: tuple[str, ...], tones: tuple[str, ...]) -> Outputs:
    """Predict the most frequent training tone and no topics for every sentence.

    Its probabilities are the training frequencies (ties go to the first tone in the config).
    """
    topic_rate = gold_arrays(train, topics, tones)[0].mean(axis=0)
    tone_rate = np.array([sum(e.tone == t for e in train) for t in tones], dtype=float) / len(train)
    return Outputs(
        topic_probabilities=np.tile(topic_rate, (n_eval, 1)),
        tone_probabilities=np.tile(tone_rate, (n_eval, 1)),  # argmax takes the first of tied tones
        topic_predictions=np.zeros((n_eval, len(topics)), dtype=bool),
    )


def _fit_predict(features, labels: np.ndarray, eval_features, classes: int, class_weight: str | None) -> np.ndarray:
    """Class probabilities (n_eval, classes); a label seen with one value only is predicted constant."""
    present = np.unique(labels)
    if len(present) == 1:
        out = np.zeros((eval_features.shape[0], classes))
        out[:, present[0]] = 1.0
        return out
    model = LogisticRegression(max_iter=2000, class_weight=class_weight).fit(features, labels)
    out = np.zeros((eval_features.shape[0], classes))
    out[:, model.classes_] = model.predict_proba(eval_features)
    return out


def tfidf_logreg(train: list[Example], texts: list[str], topics: tuple[str, ...], tones: tuple[str, ...]) -> Outputs:
    """Word uni- and bigram TF-IDF, one logistic regression per topic, a multinomial one for tone.

    Topic regressions weight classes by inverse frequency so that the usual 0.5 threshold is a
    fair operating point for rare topics.
    """
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    x_train = vectorizer.fit_transform([e.text for e in train])
    x_eval = vectorizer.transform(texts)
    gold_topics, tone_labels = gold_arrays(train, topics, tones)
    topic_p = np.column_stack(
        [_fit_predict(x_train, gold_topics[:, j], x_eval, 2, "balanced")[:, 1] for j in range(len(topics))]
    )
    tone_p = _fit_predict(x_train, tone_labels, x_eval, len(tones), None)
    return Outputs(topic_probabilities=topic_p, tone_probabilities=tone_p, topic_predictions=topic_p >= 0.5)


def baseline_outputs(
    data: TrainingData, texts: list[str], topics: tuple[str, ...], tones: tuple[str, ...]
) -> dict[str, Outputs | None]:
    """Each baseline's outputs on `texts`, or None for every baseline when training data is missing."""
    if data.examples is None:
        log.warning("baselines %s", data.note)
        return dict.fromkeys(BASELINES)
    return {
        "majority": majority(data.examples, len(texts), topics, tones),
        "tfidf_logreg": tfidf_logreg(data.examples, texts, topics, tones),
    }
