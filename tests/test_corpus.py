"""The shipped corpus itself: schema, label names from the config, counts, balance, clean splits."""

import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from stancetag.config import load_config
from stancetag.labeled import load_examples

SEEDS = Path(__file__).parents[1] / "seeds"
SPLITS = ("train", "dev", "test")
SEED_ARTICLE = "seed-000"
REGISTERS = {
    "wire", "feature_lead", "analysis", "opinion", "interview", "explainer",
    "profile", "markets", "domestic", "world", "culture",
}
ERAS = {"2009-2012", "2013-2016", "2017-2020", "2021-2024", "2025-2026"}


@pytest.fixture(scope="module")
def corpus():
    labels = load_config("configs/default.yaml").labels
    return {name: load_examples(SEEDS / f"{name}.jsonl", labels) for name in SPLITS}


def test_every_row_has_the_schema_and_config_labels():
    config = load_config("configs/default.yaml")
    for name in SPLITS:
        for number, line in enumerate((SEEDS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            assert set(row) == {"text", "topics", "tone", "article", "register", "era"}, f"{name}:{number}"
            assert row["register"] in REGISTERS and row["era"] in ERAS, f"{name}:{number}"
            assert row["text"] == row["text"].strip() and row["text"]
            assert set(row["topics"]) <= set(config.labels.topics)
            assert len(set(row["topics"])) == len(row["topics"])
            assert row["tone"] in config.labels.tones


def test_counts_and_balance(corpus):
    written = [e for name in SPLITS for e in corpus[name] if e.article != SEED_ARTICLE]
    assert len(written) >= 6000
    articles = Counter(e.article for e in written)
    assert len(articles) >= 420
    assert all(8 <= n <= 18 for n in articles.values()), [a for a, n in articles.items() if not 8 <= n <= 18]
    topics = Counter(t for e in written for t in e.topics)
    tones = Counter(e.tone for e in written)
    assert min(topics[t] for t in ("taiwan", "trade", "military_ties")) >= 300, topics
    assert min(tones[t] for t in ("cooperative", "contentious", "neutral")) >= 300, tones
    assert sum(not e.topics for e in written) >= 0.20 * len(written)
    assert sum(len(e.topics) >= 2 for e in written) >= 500  # overlaps: drills around Taiwan, arms sales, chip curbs


def test_corpus_v2_is_written_in_many_voices_like_real_reporting(corpus):
    """The sentences added for v2 (articles r9-... on): the balance issue #10 asks of them."""
    new = [e for name in SPLITS for e in corpus[name] if e.article.startswith("r")]
    assert len(new) >= 3500 and len({e.article for e in new}) >= 250
    assert sum(not e.topics for e in new) >= 0.40 * len(new)
    assert sum(e.tone == "neutral" for e in new) >= 0.35 * len(new)
    words = [len(e.text.split()) for e in new]
    assert sum(words) / len(words) >= 30
    assert sum(w > 40 for w in words) >= 0.25 * len(new)
    registers = Counter(e.register for e in new)
    assert set(registers) == REGISTERS, registers
    assert max(registers.values()) <= 0.25 * len(new), registers  # no single voice dominates
    eras = Counter(e.era for e in new)
    assert set(eras) == ERAS and min(eras.values()) >= 0.1 * len(new), eras


def test_every_register_and_era_is_in_every_split(corpus):
    for name in SPLITS:
        assert {e.register for e in corpus[name]} == REGISTERS, name
        assert {e.era for e in corpus[name]} == ERAS, name


def test_splits_are_disjoint_by_article_and_text(corpus):
    articles = {name: {e.article for e in corpus[name]} for name in SPLITS}
    texts = {name: [e.text for e in corpus[name]] for name in SPLITS}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not articles[a] & articles[b], f"articles in both {a} and {b}"
        assert not set(texts[a]) & set(texts[b]), f"sentences in both {a} and {b}"
    everything = [t for name in SPLITS for t in texts[name]]
    assert len(everything) == len(set(everything)), "duplicate sentence"
    sizes = {name: len(corpus[name]) for name in SPLITS}
    total = sum(sizes.values())
    assert 0.62 <= sizes["train"] / total <= 0.78 and 0.1 <= sizes["dev"] / total <= 0.2, sizes


def test_no_near_copies():
    """No two sentences share almost all their words (catches template filling and paraphrase copies).

    Prefix filtering keeps this fast: two word sets with Jaccard >= 0.8 must share one of the rarest
    len - ceil(0.8 * len) + 1 words of each, so only sentences sharing such a word are compared.
    """
    words = {}
    for name in SPLITS:
        for line in (SEEDS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            words[text] = frozenset(re.findall(r"[a-z0-9']+", text.lower()))
    frequency = Counter(word for bag in words.values() for word in bag)
    index: dict[str, list[str]] = {}
    prefixes = {}
    for text, bag in words.items():
        rarest = sorted(bag, key=lambda w: (frequency[w], w))
        prefixes[text] = rarest[: len(bag) - math.ceil(0.8 * len(bag)) + 1]
        for word in prefixes[text]:
            index.setdefault(word, []).append(text)
    for text, bag in words.items():
        if len(bag) < 6:
            continue
        for other in {o for word in prefixes[text] for o in index[word] if o != text}:
            shared = len(bag & words[other])
            assert shared / len(bag | words[other]) < 0.8, f"near-copies:\n  {text}\n  {other}"


def test_seed_article_is_test_only(corpus):
    assert sum(e.article == SEED_ARTICLE for e in corpus["test"]) == 29
    assert not any(e.article == SEED_ARTICLE for name in ("train", "dev") for e in corpus[name])
