"""Inference: split articles into sentences, score them in length-sorted batches, build records.

Everything runs under `torch.inference_mode`. Sentences are scored in bounded chunks, so memory
stays flat however many articles stream through `tag_articles`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.artifact import ArtifactMeta, load_artifact
from model.network import StanceTagger

log = logging.getLogger(__name__)

CHUNK_SENTENCES = 2048  # sentences scored per chunk when streaming articles


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


# pysbd's rules are slow on pathological input (a whole book on one line); longer paragraphs are
# first cut at whitespace into pieces of this size, which costs at most one wrong boundary per cut.
_MAX_PARAGRAPH_CHARS = 20_000


def split_sentences(text: str) -> list[str]:
    """Sentences of an article: paragraphs are lines; pysbd splits within them ("U.S." stays)."""
    sentences = []
    for paragraph in text.splitlines():
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        for piece in _pieces(paragraph):
            sentences.extend(s.strip() for s in _segmenter().segment(piece) if s.strip())
    return sentences


def _pieces(paragraph: str) -> Iterator[str]:
    while len(paragraph) > _MAX_PARAGRAPH_CHARS:
        cut = paragraph.rfind(" ", 0, _MAX_PARAGRAPH_CHARS)
        cut = cut if cut > 0 else _MAX_PARAGRAPH_CHARS
        yield paragraph[:cut]
        paragraph = paragraph[cut:].lstrip()
    if paragraph:
        yield paragraph


def choose_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from stancetag.errors import UserError

        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(device)


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matrix math runs in hardware (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


@dataclass
class Scores:
    topic_probabilities: np.ndarray  # (n, n_topics)
    tone_probabilities: np.ndarray  # (n, n_tones)


class Predictor:
    """Scores sentences with a trained tagger; thresholds decide which topics are on."""

    def __init__(
        self,
        tagger: StanceTagger,
        tokenizer,
        meta: ArtifactMeta,
        *,
        precision: str | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        thresholds: dict[str, float] | None = None,
    ) -> None:
        self.meta = meta
        self.device = choose_device(device)
        self.tagger = tagger.to(self.device).eval()
        self.tokenizer = tokenizer
        self.precision = resolve_precision(precision or meta.config.inference.precision, self.device)
        self.batch_size = batch_size or meta.config.inference.batch_size
        self.max_length = meta.config.model.max_length
        self.thresholds = {**meta.thresholds, **(thresholds or {})}
        self.truncated = 0

    @classmethod
    def from_directory(cls, folder: str | Path, **options: Any) -> Predictor:
        tagger, tokenizer, meta = load_artifact(folder)
        return cls(tagger, tokenizer, meta, **options)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, truncated to max_length; counts (and later reports) truncations."""
        limit = self.max_length
        encoded = self.tokenizer(texts, truncation=True, max_length=limit + 1)["input_ids"]
        ids = []
        for row in encoded:
            if len(row) > limit:
                self.truncated += 1
                row = row[: limit - 1] + row[-1:]  # keep the closing special token
            ids.append(row)
        return ids

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def score(self, texts: list[str]) -> Scores:
        """Probabilities for each text, in input order; batches are built from length-sorted texts."""
        n_topics, n_tones = len(self.meta.topics), len(self.meta.tones)
        topic_p = np.zeros((len(texts), n_topics), dtype=np.float32)
        tone_p = np.zeros((len(texts), n_tones), dtype=np.float32)
        if not texts:
            return Scores(topic_p, tone_p)
        ids = self._encode(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.pad_token_id or 0
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                topic_logits, tone_logits = self.tagger(
                    input_ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True)
                )
                topic_p[batch] = torch.sigmoid(topic_logits.float()).cpu().numpy()
                tone_p[batch] = torch.softmax(tone_logits.float() / self.meta.tone_temperature, dim=-1).cpu().numpy()
        return Scores(topic_p, tone_p)

    def decide_topics(self, topic_probabilities: np.ndarray) -> np.ndarray:
        cut = np.array([self.thresholds[t] for t in self.meta.topics], dtype=np.float32)
        return topic_probabilities >= cut

    def records(self, article: str, first_index: int, sentences: list[str], scores: Scores) -> list[dict]:
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
        pending: list[tuple[str, list[str]]] = []
        size = 0
        next_index: dict[str, int] = {}
        for article, sentences in articles:
            if not sentences:
                log.warning("article %s has no sentences; nothing to tag", article)
                continue
            pending.append((article, sentences))
            size += len(sentences)
            if size >= CHUNK_SENTENCES:
                yield from self._flush(pending, next_index)
                pending, size = [], 0
        yield from self._flush(pending, next_index)

    def _flush(self, pending: list[tuple[str, list[str]]], next_index: dict[str, int]) -> Iterator[dict]:
        if not pending:
            return
        flat = [s for _, sentences in pending for s in sentences]
        scores = self.score(flat)
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
