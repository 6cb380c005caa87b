"""What every predictor shares, whatever runs the network: token ids, length-sorted batches,
probabilities, topic decisions, records, and streaming articles through in bounded chunks.

`torch_backend.TorchPredictor` and `onnx_backend.OnnxPredictor` (ONNX Runtime) only differ in
`_forward`, so both give the same records for the same logits. This module imports neither torch
nor onnxruntime.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stancetag import progress
from stancetag.errors import UserError
from stancetag.model.meta import ArtifactMeta, ModelIdentity, model_identity
from stancetag.readers import Document
from stancetag.text import split_sentences
from stancetag.writers import metadata_key

log = logging.getLogger(__name__)

# Sentences scored per chunk when streaming articles: memory stays bounded however long the input.
CHUNK_SENTENCES = 2048

# (article id, sentences, extra keys for its records) triples, and their token ids
Chunk = tuple[list[tuple[str, list[str], dict[str, Any], list[int]]], list[list[int]]]


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
    identity: ModelIdentity | None = None  # set by `load_predictor`; names the model on every record
    backend = "torch"

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

    def predict_proba(self, texts: list[str], *, progress_label: str | None = None) -> Scores:
        """Probabilities for each text, in input order; batches are built from length-sorted texts.

        With `progress_label`, a progress bar of that name counts the sentences (when bars are on)."""
        ids = self._encode(texts)
        if progress_label is None:
            return self._score_ids(ids)
        with progress.bar(desc=progress_label, unit="sentence", total=len(ids)) as bar:
            return self._score_ids(ids, bar)

    def _score_ids(self, ids: list[list[int]], bar: Any = None) -> Scores:
        topic_p = np.zeros((len(ids), len(self.meta.topics)), dtype=np.float32)
        tone_p = np.zeros((len(ids), len(self.meta.tones)), dtype=np.float32)
        for batch, input_ids, mask in self._batches(ids):
            topic_logits, tone_logits = self._forward(input_ids, mask)
            topic_p[batch] = sigmoid(topic_logits)
            tone_p[batch] = softmax(tone_logits / self.meta.tone_temperature)
            if bar is not None:
                bar.update(len(batch))
        return Scores(topic_p, tone_p)

    def decide_topics(self, topic_probabilities: np.ndarray) -> np.ndarray:
        cut = np.array([self.thresholds[t] for t in self.meta.topics], dtype=np.float32)
        return topic_probabilities >= cut

    def labels(self, scores: Scores) -> np.ndarray:
        """(n, n_topics + 1) integer labels: each topic on/off, then the tone's index."""
        topics = self.decide_topics(scores.topic_probabilities).astype(np.int64)
        return np.concatenate([topics, scores.tone_probabilities.argmax(axis=1)[:, None]], axis=1)

    def records(
        self,
        article: str | None,
        first_index: int | list[int],
        sentences: list[str],
        scores: Scores,
        extra: dict[str, Any] | None = None,
    ) -> list[dict]:
        """One record per sentence; `extra` (the article's metadata) follows the predictions, then
        `model`, the short identity of the model (when it was loaded from a folder). `first_index`
        numbers the sentences from there on, or is the list of their indices."""
        topics_on = self.decide_topics(scores.topic_probabilities)
        tail = dict(extra or {})
        if self.identity is not None:
            tail["model"] = self.identity.short
        indices = first_index if isinstance(first_index, list) else range(first_index, first_index + len(sentences))
        out = []
        for k, (index, text) in enumerate(zip(indices, sentences, strict=True)):
            tone_row = scores.tone_probabilities[k]
            out.append(
                {
                    "article": article,
                    "sentence_index": index,
                    "text": text,
                    "topics": [t for j, t in enumerate(self.meta.topics) if topics_on[k, j]],
                    "topic_scores": {
                        t: round(float(scores.topic_probabilities[k, j]), 4) for j, t in enumerate(self.meta.topics)
                    },
                    "tone": self.meta.tones[int(np.argmax(tone_row))],
                    "tone_scores": {t: round(float(tone_row[j]), 4) for j, t in enumerate(self.meta.tones)},
                    **tail,
                }
            )
        return out

    def tag_articles(
        self,
        articles: Iterable[tuple],
        *,
        progress_label: str | None = None,
        skip: Collection[tuple[str, int]] = (),
    ) -> Iterator[dict]:
        """Stream records for (article id, sentences) pairs, or (article id, sentences, extra keys)
        triples, scoring in bounded chunks. With `progress_label`, a bar counts the sentences.

        Sentences are numbered per article id across all its rows, in input order; `skip` holds
        (article, sentence index) pairs already tagged (a resumed output), which are not scored again.
        """
        with progress.bar(desc=progress_label or "tag", unit="sentence") as bar:
            for pending, ids in self._chunks(_numbered(articles, skip)):
                scores = self._score_ids(ids, bar if progress_label else None)
                offset = 0
                for article, sentences, extra, indices in pending:
                    n = len(sentences)
                    part = Scores(
                        scores.topic_probabilities[offset : offset + n], scores.tone_probabilities[offset : offset + n]
                    )
                    yield from self.records(article, indices, sentences, part, extra)
                    offset += n

    def tag_documents(
        self,
        documents: Iterable[Document],
        *,
        level: str = "sentence",
        progress_label: str | None = None,
        skip: Collection[tuple[str, int]] = (),
    ) -> Iterator[dict]:
        """Records of whole articles: split into sentences and tagged; each record carries its article's
        metadata (every input column but text and article) and the model's identity. `level="article"`
        gives one record per article instead (see `rollup_articles`); `skip` as in `tag_articles`."""
        renamed: set[str] = set()
        items = ((d.article, split_sentences(d.text), record_metadata(d.metadata, renamed)) for d in documents)
        records = self.tag_articles(items, progress_label=progress_label, skip=skip)
        if level == "article":
            return rollup_articles(records, self.meta.topics, self.meta.tones)
        return records

    def _chunks(self, articles: Iterable[tuple]) -> Iterator[Chunk]:
        pending: list[tuple[str, list[str], dict[str, Any], list[int]]] = []
        size = 0
        for item in articles:
            pending.append(item)
            size += len(item[1])
            if size >= CHUNK_SENTENCES:
                yield pending, self._encode([s for _, group, _, _ in pending for s in group])
                pending, size = [], 0
        if pending:
            yield pending, self._encode([s for _, group, _, _ in pending for s in group])

    def provenance(self) -> dict[str, Any]:
        """What the `OUTPUT.model.json` sidecar says about the model: identity, weights fingerprint,
        the thresholds actually applied (with any --threshold), and the data it was trained on."""
        identity = self.identity
        return {
            "model": identity.short if identity else None,
            "name": identity.name if identity else None,
            "path": identity.path if identity else None,
            "weights_file": identity.weights_file if identity else None,
            "sha256": identity.sha256 if identity else None,
            "backend": self.backend,
            "precision": getattr(self, "precision", None),
            "base_model": self.meta.base_model,
            "labels": {"topics": list(self.meta.topics), "tones": list(self.meta.tones)},
            "thresholds": dict(self.thresholds),
            "stored_thresholds": dict(self.meta.thresholds),
            "tone_temperature": self.meta.tone_temperature,
            "data": self.meta.data,
            "versions": self.meta.versions,
        }


def _numbered(
    articles: Iterable[tuple], skip: Collection[tuple[str, int]]
) -> Iterator[tuple[str, list[str], dict[str, Any], list[int]]]:
    """(article, sentences, extra, their indices): numbered per article id across its rows, less `skip`."""
    next_index: dict[str, int] = {}
    for item in articles:
        article, sentences = item[0], item[1]
        extra = item[2] if len(item) > 2 else {}
        if not sentences:
            log.warning("article %s has no sentences; nothing to tag", article)
            continue
        first = next_index.get(article, 0)
        next_index[article] = first + len(sentences)
        kept = [(first + k, s) for k, s in enumerate(sentences) if (article, first + k) not in skip]
        if kept:
            yield article, [s for _, s in kept], extra, [i for i, _ in kept]


def record_metadata(columns: dict[str, Any], renamed: set[str]) -> dict[str, Any]:
    """An article's input columns as record keys; one named like a record key becomes `input_NAME`
    (said once per column: `renamed` collects the columns already reported)."""
    out = {}
    for column, value in columns.items():
        key = metadata_key(column)
        if key != column and column not in renamed:
            renamed.add(column)
            log.warning('input column "%s" is kept as "%s" (the record has its own "%s")', column, key, column)
        out[key] = value
    return out


def rollup_articles(records: Iterable[dict], topics: tuple[str, ...], tones: tuple[str, ...]) -> Iterator[dict]:
    """One record per article from its sentence records, which must come one article after another.

    `topics`: the topics of any of its sentences; `topic_shares`: the share of its sentences with
    each topic; `tone_mix`: the share of its sentences with each tone; then the article's metadata
    and `model`, as on its first sentence record.
    """
    done: set[str] = set()
    current: list[dict] = []
    for record in records:
        if current and record["article"] != current[0]["article"]:
            yield _article_record(current, topics, tones)
            done.add(current[0]["article"])
            current = []
        if not current and record["article"] in done:
            raise UserError(
                f'article "{record["article"]}" comes back after other articles; --level article needs the '
                "rows of one article next to each other: sort the input by article (or give each row its own id)"
            )
        current.append(record)
    if current:
        yield _article_record(current, topics, tones)


_SENTENCE_ONLY = {"sentence_index", "text", "topics", "topic_scores", "tone", "tone_scores"}


def _article_record(records: list[dict], topics: tuple[str, ...], tones: tuple[str, ...]) -> dict:
    n = len(records)
    topic_counts = {t: sum(t in r["topics"] for r in records) for t in topics}
    tone_counts = {t: sum(r["tone"] == t for r in records) for t in tones}
    tail = {k: v for k, v in records[0].items() if k not in _SENTENCE_ONLY and k != "article"}
    return {
        "article": records[0]["article"],
        "sentences": n,
        "topics": [t for t in topics if topic_counts[t]],
        "topic_shares": {t: round(topic_counts[t] / n, 4) for t in topics},
        "tone_mix": {t: round(tone_counts[t] / n, 4) for t in tones},
        **tail,
    }


def load_predictor(folder: str | Path, **options: Any) -> Predictor:
    """The predictor a model folder needs: ONNX Runtime for an exported folder, else torch.

    `options` are the backends' (precision, batch_size, device, thresholds). Each backend is
    imported only when chosen, so tagging with an ONNX export never imports torch.
    """
    from stancetag.model import onnx_backend

    if onnx_backend.is_onnx_export(folder):
        predictor: Predictor = onnx_backend.OnnxPredictor.from_directory(folder, **options)
        predictor.identity = model_identity(folder, onnx_backend.ONNX_FILE)
        return predictor
    from stancetag.model.artifact import WEIGHTS_FILE
    from stancetag.model.torch_backend import TorchPredictor

    predictor = TorchPredictor.from_directory(folder, **options)
    predictor.identity = model_identity(folder, WEIGHTS_FILE)
    return predictor
