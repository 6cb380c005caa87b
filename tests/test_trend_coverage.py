"""Corrected shares track the truth; raw counts do not.

A synthetic stream is sampled from the labeled test split: ten periods whose true share of
contentious sentences moves from 20% to 60% (the other labels move with whatever sentences are
drawn; their true shares are known too). A deliberately biased stand-in for the model tags it: it
over-calls contentious and mis-calls topics, with errors that depend only on a sentence's true
labels and its text (so error rates measured on labeled data hold in the stream, as adjusted
counting assumes). `compute_trends` reads the predictions as `predict` writes them, measures the
error rates on a calibration set the size of the dev split (24 articles drawn from the dev and
training splits, a new draw for each stream) and corrects. Over all labels, periods and streams,
the corrected 95% intervals must cover the true shares at least 90% of the time, while the raw
shares are off by the stand-in's bias and their intervals miss.
"""

import datetime
import hashlib
import json

import numpy as np
import pytest

from stancetag.config import load_config
from stancetag.evaluation.trends import Calibration, TrendOptions, compute_trends
from stancetag.labeled import load_examples
from stancetag.model.meta import ArtifactMeta, ModelIdentity
from stancetag.model.predictor import Predictor, Scores

from .conftest import DATA

PERIODS = 10
ARTICLES_PER_PERIOD = 20
SENTENCES_PER_ARTICLE = 8
STREAMS = 8
CALIBRATION_ARTICLES = 24  # as many as the dev split holds
CONTENTIOUS_FROM, CONTENTIOUS_TO = 0.2, 0.6


def _uniform(text: str, salt: str) -> float:
    return int.from_bytes(hashlib.sha256(f"{salt}|{text}".encode()).digest()[:8], "big") / 2**64


class BiasedPredictor(Predictor):
    """Scores from the gold labels and a hash of the text: topics are over-called (a sentence
    without the topic still scores above 0.5 a fifth of the time) and under-called (a quarter of the
    sentences with it score below 0.5), and contentious is favoured: about 23% of the sentences that
    are not contentious are tagged contentious, and 9% of those that are, are not (tone accuracy
    about 0.78 on the labeled splits, close to the real model's)."""

    def __init__(self, meta: ArtifactMeta, gold: dict[str, tuple[tuple[str, ...], str]]) -> None:
        self.meta, self.gold = meta, gold
        self.thresholds = dict(meta.thresholds)
        self.batch_size, self.max_length, self.truncated, self.tokenizer = 64, 128, 0, None
        self.identity = ModelIdentity("biased", "(test)", "none", hashlib.sha256(b"biased").hexdigest())

    def _encode(self, texts):
        return list(texts)

    def _score_ids(self, ids, bar=None):
        topic_p = np.array(
            [
                [
                    _uniform(t, topic) ** 0.5 if topic in self.gold[t][0] else _uniform(t, topic) ** 3
                    for topic in self.meta.topics
                ]
                for t in ids
            ]
        )
        logits = 4 * np.array(
            [
                [
                    1.5 * _uniform(t, tone) + 0.7 * (tone == self.gold[t][1]) + 0.3 * (tone == "contentious")
                    for tone in self.meta.tones
                ]
                for t in ids
            ]
        )
        tone_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Scores(topic_p.astype(np.float32), tone_p.astype(np.float32))


def _stream(examples, rng) -> tuple[list[list], list[float]]:
    """Periods of articles (lists of examples) and each period's planned contentious share."""
    contentious = [e for e in examples if e.tone == "contentious"]
    other = [e for e in examples if e.tone != "contentious"]
    n = ARTICLES_PER_PERIOD * SENTENCES_PER_ARTICLE
    periods, planned = [], []
    for share in np.linspace(CONTENTIOUS_FROM, CONTENTIOUS_TO, PERIODS):
        k = round(share * n)
        drawn = [contentious[i] for i in rng.choice(len(contentious), k, replace=False)]
        drawn += [other[i] for i in rng.choice(len(other), n - k, replace=False)]
        rng.shuffle(drawn)
        periods.append([drawn[a : a + SENTENCES_PER_ARTICLE] for a in range(0, n, SENTENCES_PER_ARTICLE)])
        planned.append(k / n)
    return periods, planned


def _write_predictions(path, predictor, periods):
    """Prediction records as `predict` writes them, with a date per article."""
    with path.open("w") as out:
        for p, articles in enumerate(periods):
            for a, article in enumerate(articles):
                texts = [e.text for e in article]
                scores = predictor.predict_proba(texts)
                extra = {"date": datetime.date(2010 + p, 1 + a % 12, 1).isoformat()}
                for record in predictor.records(f"p{p}-a{a}", 0, texts, scores, extra):
                    out.write(json.dumps(record) + "\n")


def _truth(articles, label) -> float:
    sentences = [e for article in articles for e in article]
    topic, tone = label["topic"] or None, label["tone"] or None
    hits = [(topic is None or topic in e.topics) and (tone is None or e.tone == tone) for e in sentences]
    return float(np.mean(hits))


def _calibration(examples, rng) -> Calibration:
    articles = sorted({e.article for e in examples})
    chosen = set(rng.choice(articles, CALIBRATION_ARTICLES, replace=False))
    return Calibration([e for e in examples if e.article in chosen], "dev+train draw", "test")


@pytest.mark.slow
def test_corrected_shares_cover_the_truth_raw_counts_do_not(tmp_path):
    config = load_config(DATA / "tiny.yaml")
    labels = config.labels
    test = load_examples("seeds/test.jsonl", labels)
    labeled = load_examples("seeds/dev.jsonl", labels) + load_examples("seeds/train.jsonl", labels)
    gold = {e.text: (e.topics, e.tone) for e in test + labeled}
    meta = ArtifactMeta(config=config, thresholds=dict.fromkeys(labels.topics, 0.5), base_model="none")
    predictor = BiasedPredictor(meta, gold)
    covered, raw_covered, raw_error, corrected_error = [], [], [], []
    moving_covered = []
    for stream in range(STREAMS):
        rng = np.random.default_rng(stream)
        calibration = _calibration(labeled, rng)
        periods, planned = _stream(test, rng)
        path = tmp_path / f"stream{stream}.jsonl"
        _write_predictions(path, predictor, periods)
        options = TrendOptions(period="year", resamples=1000, seed=stream)
        result = compute_trends([str(path)], predictor, calibration, options)
        assert len(result.rows) == PERIODS * len(result.labels)
        for row in result.rows:
            truth = _truth(periods[int(row["period"]) - 2010], row)
            covered.append(row["corrected_low"] <= truth <= row["corrected_high"])
            raw_covered.append(row["raw_low"] <= truth <= row["raw_high"])
            if row["label"] == "contentious":
                assert truth == pytest.approx(planned[int(row["period"]) - 2010])
                moving_covered.append(covered[-1])
                raw_error.append(row["raw_share"] - truth)
                corrected_error.append(row["corrected_share"] - truth)
    coverage, raw_coverage = float(np.mean(covered)), float(np.mean(raw_covered))
    raw_error, corrected_error = (
        np.array(raw_error).reshape(STREAMS, PERIODS),
        np.array(corrected_error).reshape(STREAMS, PERIODS),
    )
    true_rise = CONTENTIOUS_TO - CONTENTIOUS_FROM
    raw_rise = true_rise + (raw_error[:, -1] - raw_error[:, 0]).mean()
    corrected_rise = true_rise + (corrected_error[:, -1] - corrected_error[:, 0]).mean()
    print(
        f"\ncoverage of the corrected 95% intervals: {coverage:.1%} of {len(covered)} (label, period) shares; "
        f"contentious alone {np.mean(moving_covered):.1%}; raw intervals {raw_coverage:.1%}\n"
        f"contentious, true share 20% -> 60% (+40 points): raw error {raw_error[:, 0].mean():+.3f} at 20%, "
        f"{raw_error[:, -1].mean():+.3f} at 60%, rise {raw_rise:+.3f}; corrected error "
        f"{corrected_error[:, 0].mean():+.3f} at 20%, {corrected_error[:, -1].mean():+.3f} at 60%, rise "
        f"{corrected_rise:+.3f}; mean error raw {raw_error.mean():+.3f}, corrected {corrected_error.mean():+.3f}; "
        f"mean absolute error raw "
        f"{np.abs(raw_error).mean():.3f}, corrected {np.abs(corrected_error).mean():.3f}"
    )
    assert coverage >= 0.90
    assert np.mean(moving_covered) >= 0.90
    # the raw counts carry the stand-in's over-calling: 20% reads as more than 30%, the rise is flattened,
    # and intervals that only resample the stream do not see it
    assert raw_error[:, 0].mean() >= 0.1
    assert raw_rise <= true_rise - 0.07
    assert raw_coverage <= 0.8
    # the correction removes the bias; what is left of a single stream's error is mostly the error of
    # rates measured on about 340 labeled sentences, which the intervals carry
    assert abs(corrected_error.mean()) <= 0.03
    assert abs(corrected_rise - true_rise) <= abs(raw_rise - true_rise) / 2
