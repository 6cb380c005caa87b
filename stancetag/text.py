"""Articles into sentences: paragraphs are lines, pysbd splits within them. No torch here, so the
ONNX predictor and the readers can split text without importing it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache


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
