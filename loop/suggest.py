"""Which unlabeled sentences to label next, and why each one.

`uncertainty` ranks sentences by how close the model is to changing its mind: a topic probability
near that topic's stored threshold, or a tone whose two most probable labels are close. `random`
is the control it is measured against (`bench/active_learning.py`). Either way the picks go
through the same filters, so a batch is worth an annotator's time: at most `per_article`
sentences of one article, and no sentence that is a near-duplicate (TF-IDF cosine at or above
`max_similarity`) of one already picked.

Uncertainty sampling is written here rather than taken from small-text or modAL: both expect a
single-label classifier they train themselves, while stancetag has a multi-label topic head with
tuned thresholds beside a tone head, and only needs the scores the predictor already gives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from stancetag.errors import UserError

STRATEGIES = ("uncertainty", "random")
# The default follows bench/active_learning.py (README, "Choosing what to label"): uncertainty beat
# random at every budget there.
DEFAULT_STRATEGY = "uncertainty"


@dataclass(frozen=True)
class SuggestOptions:
    count: int
    strategy: str = DEFAULT_STRATEGY
    per_article: int = 3
    max_similarity: float = 0.8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise UserError(f"--count {self.count}: ask for at least 1 sentence")
        if self.strategy not in STRATEGIES:
            raise UserError(f"--strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.per_article < 1:
            raise UserError(f"--per-article {self.per_article}: allow at least 1 sentence per article")
        if not 0.0 < self.max_similarity <= 1.0:
            raise UserError(f"--max-similarity {self.max_similarity}: choose a cosine similarity in (0, 1]")


@dataclass(frozen=True)
class Pick:
    index: int  # position in the candidates given
    uncertainty: float  # 0 (sure) .. 1 (on the fence)
    reason: str


def topic_distance(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How far each topic probability is from its threshold, as a share of the room on that side:
    0 at the threshold, 1 at 0 or 1. A threshold of 0.2 makes 0.1 as uncertain as 0.6 is."""
    below = probabilities < thresholds
    room = np.where(below, thresholds, 1.0 - thresholds)
    return np.clip(np.abs(probabilities - thresholds) / np.maximum(room, 1e-6), 0.0, 1.0)


def tone_margin(probabilities: np.ndarray) -> np.ndarray:
    """Probability of the most likely tone minus that of the runner-up (0: a tie)."""
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def uncertainty_scores(
    topic_p: np.ndarray, tone_p: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uncertainty, closest topic's index, its distance) per sentence; uncertainty is 1 minus the
    smaller of the closest topic's distance and the tone margin, so either head can raise it."""
    distance = topic_distance(topic_p, thresholds)
    closest = distance.argmin(axis=1)
    nearest = distance[np.arange(len(distance)), closest]
    return 1.0 - np.minimum(nearest, tone_margin(tone_p)), closest, nearest


def reason_for(
    topic_row: np.ndarray, tone_row: np.ndarray, thresholds: np.ndarray, topics: tuple[str, ...], tones: tuple[str, ...]
) -> str:
    """One line a labeler can read: the closest topic call and the tone call, tighter one first."""
    distance = topic_distance(topic_row[None, :], thresholds)[0]
    j = int(distance.argmin())
    topic_part = f"{topics[j]} {topic_row[j]:.2f} vs threshold {thresholds[j]:.2f}"
    order = np.argsort(tone_row)[::-1]
    a, b = int(order[0]), int(order[1])
    margin = float(tone_row[a] - tone_row[b])
    tone_part = f"tone {tones[a]} {tone_row[a]:.2f} vs {tones[b]} {tone_row[b]:.2f}"
    if distance[j] <= margin:
        return f"topic {topic_part}; {tone_part}"
    return f"{tone_part}; topic {topic_part}"


def _similarity_vectors(texts: list[str]):
    """Word uni/bigram TF-IDF rows, L2-normalised: a dot product is the cosine similarity."""
    try:
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    except ValueError:  # every text is stop words or punctuation: nothing to compare
        return None


def choose(
    texts: list[str],
    articles: list[str],
    topic_p: np.ndarray,
    tone_p: np.ndarray,
    thresholds: np.ndarray,
    options: SuggestOptions,
    topics: tuple[str, ...],
    tones: tuple[str, ...],
) -> list[Pick]:
    """Up to `options.count` candidates, in the order to label them, with the reason for each."""
    if not texts:
        return []
    uncertainty, _, _ = uncertainty_scores(topic_p, tone_p, thresholds)
    if options.strategy == "uncertainty":
        order = sorted(range(len(texts)), key=lambda i: (-round(float(uncertainty[i]), 9), i))
    else:
        order = list(np.random.default_rng(options.seed).permutation(len(texts)))
    vectors = _similarity_vectors(texts)
    per_article: Counter[str] = Counter()
    chosen: list[int] = []
    seen_texts: set[str] = set()
    picks: list[Pick] = []
    for i in order:
        i = int(i)
        if len(picks) == options.count:
            break
        if per_article[articles[i]] >= options.per_article or texts[i] in seen_texts:
            continue
        if vectors is not None and chosen:
            similarity = (vectors[chosen] @ vectors[i].T).toarray().ravel()
            if similarity.max() >= options.max_similarity:
                continue
        chosen.append(i)
        seen_texts.add(texts[i])
        per_article[articles[i]] += 1
        reason = reason_for(topic_p[i], tone_p[i], thresholds, topics, tones)
        if options.strategy == "random":
            reason = f"random pick (seed {options.seed}); {reason}"
        picks.append(Pick(i, float(uncertainty[i]), reason))
    return picks


def suggest_records(
    records: list[dict], thresholds: dict[str, float], topics: tuple[str, ...], tones: tuple[str, ...], options
) -> list[dict]:
    """Prediction records (as `predict` writes them) of the sentences to label, each with `rank`,
    `strategy`, `uncertainty` and `reason` added."""
    topic_p = np.array([[r["topic_scores"][t] for t in topics] for r in records], dtype=float)
    tone_p = np.array([[r["tone_scores"][t] for t in tones] for r in records], dtype=float)
    cut = np.array([thresholds[t] for t in topics], dtype=float)
    picks = choose(
        [r["text"] for r in records],
        [r["article"] for r in records],
        topic_p.reshape(len(records), len(topics)),
        tone_p.reshape(len(records), len(tones)),
        cut,
        options,
        topics,
        tones,
    )
    return [
        {
            **records[p.index],
            "rank": rank,
            "strategy": options.strategy,
            "uncertainty": round(p.uncertainty, 4),
            "reason": p.reason,
        }
        for rank, p in enumerate(picks, start=1)
    ]


def record_uncertainty(record: dict, thresholds: dict[str, float], topics, tones) -> float:
    """The uncertainty of one prediction record (what `suggest` ranks by)."""
    topic_p = np.array([[record["topic_scores"][t] for t in topics]], dtype=float)
    tone_p = np.array([[record["tone_scores"][t] for t in tones]], dtype=float)
    cut = np.array([thresholds[t] for t in topics], dtype=float)
    return float(uncertainty_scores(topic_p, tone_p, cut)[0][0])


def summary(picks: list[dict], candidates: int) -> str:
    """One line for stderr: how many were picked from how many, from how many articles."""
    articles = len({p["article"] for p in picks})
    return f"suggested {len(picks)} of {candidates} sentences from {articles} article(s)"
