"""The Python API: load a trained model once, then tag sentences or whole articles.

```python
from stancetag import Tagger

tagger = Tagger.load("artifacts/default")              # a model folder or its ONNX export
tagger.predict(["Chinese warships encircled Taiwan on Monday."])
# [{"article": None, "sentence_index": 0, "text": "Chinese warships ...", "topics": ["taiwan", "military_ties"],
#   "topic_scores": {...}, "tone": "contentious", "tone_scores": {...}}]
records = tagger.tag_articles({"w4-03": "Tariffs rose on Monday. Talks resume in May."})
```

Records are exactly those `stancetag predict` writes (one per sentence; `tag_articles` splits
articles into sentences the way the CLI does), so a notebook and the command line agree.
`pandas.DataFrame(records)` turns them into a table. Nothing here imports torch: an ONNX export
tags without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Union

from stancetag.config import PRECISIONS
from stancetag.errors import UserError, did_you_mean
from stancetag.model.meta import ArtifactMeta
from stancetag.model.onnx_backend import OnnxPredictor
from stancetag.model.predictor import CHUNK_SENTENCES, Predictor, load_predictor
from stancetag.text import split_sentences

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")

# What `tag_articles` accepts: one article's text; texts (ids "0", "1", ...); {id: text}; (id, text) pairs.
Articles = Union[str, Mapping[Any, str], Iterable[str], Iterable[tuple[Any, str]]]


class Tagger:
    """A trained stancetag model: topics (multi-label) and one tone for every sentence.

    Build it with `Tagger.load(path)`. `predict` tags sentences, `tag_articles` splits articles into
    sentences and tags them, `stream` does the same lazily for inputs too large for memory.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        device: str = "auto",
        precision: str | None = None,
        batch_size: int | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> Tagger:
        """Load a model folder written by `stancetag train`, or its export from `stancetag export --onnx`.

        device: "auto" (a CUDA GPU when there is one), "cpu" or "cuda"; an ONNX export runs on the CPU.
        precision: "auto", "fp32" or "bf16" (default: the model's `inference.precision`).
        batch_size: sentences per forward pass (default: the model's `inference.batch_size`).
        thresholds: per-topic decision thresholds that replace the stored ones, e.g. {"trade": 0.8}.
        Raises `stancetag.errors.UserError` (a ValueError) saying what is wrong and how to fix it.
        """
        if device not in DEVICES and not re.fullmatch(r"cuda:\d+", str(device)):
            raise UserError(f"device {device!r}: choose one of {', '.join(DEVICES)} (or cuda:N)")
        if precision is not None and precision not in PRECISIONS:
            raise UserError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        whole = isinstance(batch_size, int) and not isinstance(batch_size, bool)
        if batch_size is not None and (not whole or batch_size < 1):
            raise UserError(f"batch_size {batch_size!r}: give a whole number of at least 1")
        predictor = load_predictor(Path(path), precision=precision, batch_size=batch_size, device=device)
        tagger = cls(predictor)
        tagger.set_thresholds(thresholds or {})
        return tagger

    @property
    def meta(self) -> ArtifactMeta:
        """The model's `stancetag.json`: config, training data, dev metrics, versions."""
        return self.predictor.meta

    @property
    def topics(self) -> tuple[str, ...]:
        return self.predictor.meta.topics

    @property
    def tones(self) -> tuple[str, ...]:
        return self.predictor.meta.tones

    @property
    def thresholds(self) -> dict[str, float]:
        """The per-topic thresholds in use (a copy; change them with `set_thresholds`)."""
        return dict(self.predictor.thresholds)

    @property
    def backend(self) -> str:
        """Which runtime tags: "torch" for a model folder, "onnx" for an ONNX export."""
        return "onnx" if isinstance(self.predictor, OnnxPredictor) else "torch"

    @property
    def truncated(self) -> int:
        """How many sentences so far were longer than the model's max_length and were cut."""
        return self.predictor.truncated

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        """Move topic operating points, e.g. {"trade": 0.8} (see the threshold sweep in the report)."""
        for topic, value in thresholds.items():
            if topic not in self.topics:
                raise UserError(
                    f'thresholds: unknown topic "{topic}"{did_you_mean(str(topic), list(self.topics))}; '
                    f"this model's topics: {', '.join(self.topics)}"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise UserError(f"thresholds: {topic}={value!r} must be a number between 0 and 1")
        self.predictor.thresholds.update({t: float(v) for t, v in thresholds.items()})

    def predict(self, sentences: str | Iterable[str], *, article: str | None = None) -> list[dict]:
        """One record per sentence, in input order; the sentences are not split further.

        A single string is one sentence. `article` fills the records' "article" field (None by
        default); "sentence_index" is the position in `sentences`.
        """
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise UserError(f"sentence {k}: expected a string, found {type(text).__name__}; drop or convert it")
            if not text.strip():
                raise UserError(f"sentence {k}: empty; drop it before tagging")
        before = self.truncated
        records: list[dict] = []
        for start in range(0, len(texts), CHUNK_SENTENCES):  # bounded memory for token ids and scores
            chunk = texts[start : start + CHUNK_SENTENCES]
            records += self.predictor.records(article, start, chunk, self.predictor.predict_proba(chunk))
        self._warn_truncated(before)
        return records

    def tag_articles(self, articles: Articles) -> list[dict]:
        """Split articles into sentences (paragraphs are lines) and tag each: `stancetag predict`'s records.

        `articles` is one article's text (its id is "0"), a list of texts (ids "0", "1", ...), a
        mapping {id: text}, or (id, text) pairs. An article without sentences gives no records.
        """
        before = self.truncated
        records = list(self.stream(articles))
        self._warn_truncated(before)
        return records

    def stream(self, articles: Articles) -> Iterator[dict]:
        """`tag_articles` as a generator: articles are split and scored in bounded chunks as they come."""
        pairs = ((article, split_sentences(text)) for article, text in article_texts(articles))
        return self.predictor.tag_articles(pairs)

    def _warn_truncated(self, before: int) -> None:
        if self.truncated > before:
            log.warning(
                "%d sentence(s) longer than %d tokens were truncated before tagging",
                self.truncated - before,
                self.predictor.max_length,
            )

    def __repr__(self) -> str:
        return f"Tagger(backend={self.backend!r}, topics={list(self.topics)}, tones={list(self.tones)})"


def article_texts(articles: Articles) -> Iterator[tuple[str, str]]:
    """(article id, text) pairs from any of the shapes `Tagger.tag_articles` accepts."""
    if isinstance(articles, str):
        items: Iterable[Any] = [("0", articles)]
    elif isinstance(articles, Mapping):
        items = articles.items()
    elif isinstance(articles, Iterable):
        items = articles
    else:
        raise UserError(
            f"articles: expected a text, a list of texts, a dict {{id: text}} or (id, text) pairs, "
            f"found {type(articles).__name__}"
        )
    for position, item in enumerate(items):
        if isinstance(item, str):
            article, text = str(position), item
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            article, text = str(item[0]), item[1]
        else:
            raise UserError(f"articles[{position}]: expected a text or an (id, text) pair, found {type(item).__name__}")
        if not isinstance(text, str):
            raise UserError(f"article {article}: the text must be a string, found {type(text).__name__}")
        yield article, text
