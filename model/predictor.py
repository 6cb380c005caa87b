"""What every predictor shares, whatever runs the network: token ids, length-sorted batches,
probabilities, topic decisions, records, and streaming articles through in bounded chunks.

`torch_backend.TorchPredictor` and `onnx_backend.OnnxPredictor` (ONNX Runtime) only differ in
`_forward`, so both give the same records for the same logits. This module imports neither torch
nor onnxruntime.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stancetag.model.meta import ArtifactMeta

log = logging.getLogger(__name__)

# Sentences scored per chunk when streaming articles. Splitting and tokenizing the next chunk in a
# background thread while the network scores this one was measured and not kept: on 2 cores it gained
# 0-3% (within noise), since the network already keeps both cores busy and pysbd holds the GIL.
CHUNK_SENTENCES = 2048

Chunk = tuple[list[tuple[str, list[str]]], list[list[int]]]  # (article id, sentences) pairs, their token ids


@dataclass
class Scores:
    topic_probabilities: np.ndarray  # (n, n_topics)
    tone_probabilities: np.ndarray  # (n, n_tones)


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> tuple[list[list[int]], int]:
    """Token ids of each text, cut to `max_length` keeping the closing special token; and how many were cut."""
    if not texts:
        return [], 0
    encoded = tokenizer(texts, truncation=True, max_length=max_length + 1)["input_ids"]
    ids = [row if len(row) <= max_length else row[: max_length - 1] + row[-1:] for row in encoded]
    return ids, sum(len(row) > max_length for row in encoded)


def pad_ids(ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic padding: int64 (input_ids, attention_mask) as wide as the longest row of this batch."""
    width = max(len(row) for row in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for k, row in enumerate(ids):
        input_ids[k, : len(row)] = row
        mask[k, : len(row)] = 1
    return input_ids, mask


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Predictor:
    """Scores sentences with a trained tagger; thresholds decide which topics are on.

    Subclasses set the attributes below and implement `_forward`.
    """

    meta: ArtifactMeta
    tokenizer: Any
    batch_size: int
    max_length: int
    thresholds: dict[str, float]
    truncated: int

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(topic logits, tone logits) as float32 arrays for one padded int64 batch."""
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, truncated to max_length; counts (and later reports) truncations."""
        ids, truncated = encode_texts(self.tokenizer, texts, self.max_length)
        self.truncated += truncated
        return ids

    def _batches(self, ids: list[list[int]]) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(positions, input_ids, attention_mask) batches of length-sorted token ids: little padding."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield (batch, *pad_ids([ids[i] for i in batch], pad))

    def predict_proba(self, texts: list[str]) -> Scores:
        """Probabilities for each text, in input order; batches are built from length-sorted texts."""
        return self._score_ids(self._encode(texts))

    def _score_ids(self, ids: list[list[int]]) -> Scores:
        topic_p = np.zeros((len(ids), len(self.meta.topics)), dtype=np.float32)
        tone_p = np.zeros((len(ids), len(self.meta.tones)), dtype=np.float32)
        for batch, input_ids, mask in self._batches(ids):
            topic_logits, tone_logits = self._forward(input_ids, mask)
            topic_p[batch] = sigmoid(topic_logits)
            tone_p[batch] = softmax(tone_logits / self.meta.tone_temperature)
        return Scores(topic_p, tone_p)

    def decide_topics(self, topic_probabilities: np.ndarray) -> np.ndarray:
        cut = np.array([self.thresholds[t] for t in self.meta.topics], dtype=np.float32)
        return topic_probabilities >= cut

    def labels(self, scores: Scores) -> np.ndarray:
        """(n, n_topics + 1) integer labels: each topic on/off, then the tone's index."""
        topics = self.decide_topics(scores.topic_probabilities).astype(np.int64)
        return np.concatenate([topics, scores.tone_probabilities.argmax(axis=1)[:, None]], axis=1)

    def records(self, article: str | None, first_index: int, sentences: list[str], scores: Scores) -> list[dict]:
        topics_on = self.decide_topics(scores.topic_probabilities)
        out = []
        for k, text in enumerate(sentences):
            tone_row = scores.tone_probabilities[k]
            out.append(
                {
                    "article": article,
                    "sentence_index": first_index + k,
                    "text": text,
                    "topics": [t for j, t in enumerate(self.meta.topics) if topics_on[k, j]],
                    "topic_scores": {
                        t: round(float(scores.topic_probabilities[k, j]), 4) for j, t in enumerate(self.meta.topics)
                    },
                    "tone": self.meta.tones[int(np.argmax(tone_row))],
                    "tone_scores": {t: round(float(tone_row[j]), 4) for j, t in enumerate(self.meta.tones)},
                }
            )
        return out

    def tag_articles(self, articles: Iterable[tuple[str, list[str]]]) -> Iterator[dict]:
        """Stream records for (article id, sentences) pairs, scoring in bounded chunks."""
        next_index: dict[str, int] = {}
        for pending, ids in self._chunks(articles):
            scores = self._score_ids(ids)
            offset = 0
            for article, sentences in pending:
                n = len(sentences)
                part = Scores(
                    scores.topic_probabilities[offset : offset + n], scores.tone_probabilities[offset : offset + n]
                )
                first = next_index.get(article, 0)
                next_index[article] = first + n
                yield from self.records(article, first, sentences, part)
                offset += n

    def _chunks(self, articles: Iterable[tuple[str, list[str]]]) -> Iterator[Chunk]:
        pending: list[tuple[str, list[str]]] = []
        size = 0
        for article, sentences in articles:
            if not sentences:
                log.warning("article %s has no sentences; nothing to tag", article)
                continue
            pending.append((article, sentences))
            size += len(sentences)
            if size >= CHUNK_SENTENCES:
                yield pending, self._encode([s for _, group in pending for s in group])
                pending, size = [], 0
        if pending:
            yield pending, self._encode([s for _, group in pending for s in group])


def load_predictor(folder: str | Path, **options: Any) -> Predictor:
    """The predictor a model folder needs: ONNX Runtime for an exported folder, else torch.

    `options` are the backends' (precision, batch_size, device, thresholds). Each backend is
    imported only when chosen, so tagging with an ONNX export never imports torch.
    """
    from stancetag.model import onnx_backend

    if onnx_backend.is_onnx_export(folder):
        return onnx_backend.OnnxPredictor.from_directory(folder, **options)
    from stancetag.model.torch_backend import TorchPredictor

    return TorchPredictor.from_directory(folder, **options)
