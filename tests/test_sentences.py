"""Sentence splitting of articles: what `predict` tags one by one."""

from pathlib import Path

from stancetag.text import split_sentences

SEED = Path(__file__).parents[1] / "seeds" / "seed_article.txt"


def test_seed_article_has_29_sentences():
    sentences = split_sentences(SEED.read_text(encoding="utf-8"))
    assert len(sentences) == 29
    assert sentences[0].startswith("U.S. National Security Adviser Jake Sullivan met")
    assert sentences[-1].endswith("increasingly assertive foreign policy.")


def test_abbreviations_do_not_end_sentences():
    text = "U.S. officials met on Nov. 5 in Washington. Talks resume in Dec. next year, they said."
    assert split_sentences(text) == [
        "U.S. officials met on Nov. 5 in Washington.",
        "Talks resume in Dec. next year, they said.",
    ]


def test_paragraph_lines_and_blank_lines():
    assert split_sentences("First one.\n\n  Second one. Third one.\n") == ["First one.", "Second one.", "Third one."]
    assert split_sentences("\n \n") == []


def test_huge_single_line_is_split_without_hanging():
    text = "Beijing said tariffs would rise. " * 30_000  # about 1 MB on one line
    sentences = split_sentences(text)
    assert len(sentences) >= 29_000
