"""Shares corrected for the model's error rates: adjusted classify-and-count (ACC) and its
probabilistic form (PACC), with bootstrap intervals that carry the uncertainty of the error-rate
estimate as well as the sampling of the stream.

Why: a model that tags "contentious" on 25% of the sentences that are not contentious and on 80%
of those that are reports 0.25 + 0.55 x (true share): 36% when the truth is 20%, 58% when it is
60%. Counting its tags shifts every level and flattens every trend. ACC measures on labeled data
how often an item of each true class is given each predicted class, the matrix M with
M[i, j] = P(predicted i | true j), and inverts q = M p, where q is the share of items given each
class and p the true shares (Forman 2008; Vaz et al. 2019). PACC does the same with probabilities:
q holds the mean probability of each class, M[i, j] the mean probability of class i on items of
true class j (Bella et al. 2010). The solution is clipped at zero and renormalised to sum to one.
Both assume that what changes between the labeled set and the stream is how often each class
occurs, not how the model errs on an item of a given class ("prior probability shift").

The intervals resample *articles* (sentences of one article are not independent) twice in every
bootstrap round: the labeled calibration set, giving a new M, and the sample being measured,
giving a new q; the corrected shares of each round are one draw. Holding M fixed would leave out
the uncertainty of the error rates and make the intervals too narrow.

Written with numpy rather than QuaPy's ACC / PACC / AggregativeBootstrap because those estimate one
sample per call and resample instances independently (in joblib workers), while thousands of
article resamples of the calibration set and of every period are a few stacked matrix products
here. The solve follows QuaPy's (`ACC.getPteCondEstim`: a true class absent from the calibration
set gets an identity column; `solve_adjustment` exact, then `normalize_prevalence` "clip");
tests/test_quantify.py checks the point estimates against QuaPy's ACC and PACC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stancetag.errors import UserError
from stancetag.evaluation.bootstrap import LEVEL, check_resamples, percentile_interval, resample_weights

METHODS = ("pacc", "acc")
# Bound on the size of one block of bootstrap weights (resamples x articles), to keep memory flat.
MAX_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class Sample:
    """What the model says about a set of items (sentences or articles) over K exclusive classes,
    summed per article (row): items, items given each class, and each class's summed probability."""

    items: np.ndarray  # (A,)
    hits: np.ndarray  # (A, K)
    scores: np.ndarray  # (A, K)

    @classmethod
    def from_items(cls, predicted: np.ndarray, probabilities: np.ndarray, clusters: np.ndarray) -> Sample:
        """Each item's predicted class (n,), class probabilities (n, K) and article index (n,)."""
        n_clusters, k = _n_clusters(clusters), probabilities.shape[1]
        items = np.bincount(clusters, minlength=n_clusters).astype(float)
        hits = np.zeros((n_clusters, k))
        np.add.at(hits, (clusters, predicted), 1.0)
        scores = np.zeros((n_clusters, k))
        np.add.at(scores, clusters, probabilities)
        return cls(items, hits, scores)


@dataclass(frozen=True)
class LabeledSample:
    """The calibration set, summed per article: items of each true class, and per (predicted i,
    true j) the items given class i and the summed probability of class i."""

    gold: np.ndarray  # (A, K)
    hits: np.ndarray  # (A, K, K): [article, predicted, true]
    scores: np.ndarray  # (A, K, K)

    @classmethod
    def from_items(
        cls, gold: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray, clusters: np.ndarray
    ) -> LabeledSample:
        n_clusters, k = _n_clusters(clusters), probabilities.shape[1]
        counts = np.zeros((n_clusters, k))
        np.add.at(counts, (clusters, gold), 1.0)
        hits = np.zeros((n_clusters, k, k))
        np.add.at(hits, (clusters, predicted, gold), 1.0)
        scores = np.zeros((n_clusters, k, k))
        for i in range(k):
            np.add.at(scores[:, i, :], (clusters, gold), probabilities[:, i])
        return cls(counts, hits, scores)

    @property
    def n_clusters(self) -> int:
        return self.gold.shape[0]


def _n_clusters(clusters: np.ndarray) -> int:
    return int(clusters.max()) + 1 if len(clusters) else 0


def solve(matrices: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Shares p with M p = q for each (K, K) matrix and (K,) observation of the stacks; negative
    shares are clipped to 0 and the rest renormalised. A singular M (classes the calibration set
    cannot tell apart) gets the least-squares solution of smallest norm."""
    shares = np.einsum("bij,bj->bi", np.linalg.pinv(matrices), observed)
    shares = np.clip(shares, 0.0, None)
    total = shares.sum(axis=1, keepdims=True)
    return np.where(total > 0, shares / np.where(total > 0, total, 1.0), np.nan)


@dataclass(frozen=True)
class Estimate:
    """Raw (classify and count) and corrected class shares of one sample, and their bootstrap draws."""

    raw: np.ndarray  # (K,)
    corrected: np.ndarray  # (K,)
    raw_draws: np.ndarray  # (resamples, K): the stream resampled, the rates fixed
    corrected_draws: np.ndarray  # (resamples, K): the stream and the calibration set resampled
    articles: int
    items: int
    level: float = LEVEL

    def share(self, classes: list[int] | tuple[int, ...]) -> dict[str, float]:
        """The share of items in any of `classes`, raw and corrected, with 95% intervals."""
        cols = list(classes)
        raw, corrected = float(self.raw[cols].sum()), float(self.corrected[cols].sum())
        raw_low, raw_high = percentile_interval(self.raw_draws[:, cols].sum(axis=1), raw, self.level)
        low, high = percentile_interval(self.corrected_draws[:, cols].sum(axis=1), corrected, self.level)
        return {
            "raw": raw,
            "raw_low": raw_low,
            "raw_high": raw_high,
            "corrected": corrected,
            "low": low,
            "high": high,
        }


class AdjustedCount:
    """ACC or PACC over K exclusive classes, with a joint article bootstrap.

    Like a scikit-learn estimator: the constructor stores settings; `fit` measures the error rates
    on the calibration set and on each of its bootstrap resamples; `estimate` corrects one sample.
    The calibration resamples are drawn once and shared by every sample estimated afterwards (the
    same error rates correct every period, so their uncertainty is shared too).
    """

    def __init__(
        self,
        method: str = "pacc",
        *,
        resamples: int = 1000,
        seed: int = 0,
        level: float = LEVEL,
        resample_rates: bool = True,
    ) -> None:
        self.method = method
        self.resamples = resamples
        self.seed = seed
        self.level = level
        self.resample_rates = resample_rates  # False only to show what the intervals miss without it

    def fit(self, calibration: LabeledSample) -> AdjustedCount:
        if self.method not in METHODS:
            raise UserError(f"--method {self.method!r}: choose one of {', '.join(METHODS)}")
        if self.resamples < 1:
            raise UserError(f"--bootstrap {self.resamples}: expected at least 1 resample (1000 is a good default)")
        if calibration.n_clusters == 0:
            raise UserError("the calibration set holds no sentences; pass --calibration-data with labeled sentences")
        k = calibration.gold.shape[1]
        # per resample: weights over the calibration articles (drawn, then as floats) and K x K error rates
        check_resamples(
            self.resamples, 2 * calibration.n_clusters + 4 * k * k, f"{calibration.n_clusters} calibration articles"
        )
        self.class_counts_ = calibration.gold.sum(axis=0)
        self.rates_ = self._rates(calibration, np.ones((1, calibration.n_clusters)))[0]
        if self.resample_rates:
            weights = resample_weights(calibration.n_clusters, self.resamples, self.seed)
        else:
            weights = np.ones((self.resamples, calibration.n_clusters))
        self.rate_draws_ = self._rates(calibration, weights)
        return self

    def _rates(self, calibration: LabeledSample, weights: np.ndarray) -> np.ndarray:
        """(resamples, K, K) matrices M[i, j]: predicted i (or mean probability of i) given true j."""
        joint = calibration.hits if self.method == "acc" else calibration.scores
        per_class = weights @ calibration.gold  # (B, K)
        summed = np.einsum("ba,aij->bij", weights, joint)
        present = per_class[:, None, :] > 0
        k = calibration.gold.shape[1]
        rates = summed / np.where(present, per_class[:, None, :], 1.0)
        return np.where(present, rates, np.eye(k)[None])  # an absent true class: identity column

    def rates_interval(self) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval of each entry of M over the calibration resamples."""
        tail = (1 - self.level) / 2 * 100
        low, high = np.percentile(self.rate_draws_, [tail, 100 - tail], axis=0)
        return low, high

    def _observed(self, sample: Sample, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw class shares, the shares the correction starts from) for each row of weights."""
        items = (weights @ sample.items)[:, None]
        raw = weights @ sample.hits / np.where(items > 0, items, 1.0)
        if self.method == "acc":
            return raw, raw
        return raw, weights @ sample.scores / np.where(items > 0, items, 1.0)

    def estimate(self, sample: Sample, stream_seed: int = 0) -> Estimate:
        """Raw and corrected class shares of one sample; `stream_seed` seeds its resamples."""
        if not hasattr(self, "rates_"):
            raise RuntimeError("AdjustedCount.estimate before fit: call fit(calibration) first")
        n = len(sample.items)
        raw, observed = (r[0] for r in self._observed(sample, np.ones((1, n))))
        corrected = solve(self.rates_[None], observed[None])[0]
        rng = np.random.default_rng([self.seed, stream_seed])
        raw_draws, corrected_draws = [], []
        block = max(1, MAX_BLOCK_CELLS // max(n, 1))
        for start in range(0, self.resamples, block):
            size = min(block, self.resamples - start)
            weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
            r, o = self._observed(sample, weights)
            raw_draws.append(r)
            corrected_draws.append(solve(self.rate_draws_[start : start + size], o))
        return Estimate(
            raw, corrected, np.vstack(raw_draws), np.vstack(corrected_draws), n, int(sample.items.sum()), self.level
        )
