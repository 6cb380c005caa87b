"""Article-bootstrap intervals and paired tests behind the report.

Every headline metric (topic micro/macro F1, tone accuracy and macro F1) is a function of a few
sums of counts: true positives, false positives and false negatives per label, and right answers.
Those counts are summed per article once; a bootstrap resample of articles is then a vector of
integer weights over articles, so 1,000 resamples are a single matrix product, not 1,000 loops
over sentences. Articles, not sentences, are resampled: sentences of one article share a
subject and a writer, and treating them as independent would make the intervals too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stancetag.errors import UserError

HEADLINE = ("topic_micro_f1", "topic_macro_f1", "tone_accuracy", "tone_macro_f1")
HEADLINE_NAMES = {
    "topic_micro_f1": "topic micro F1",
    "topic_macro_f1": "topic macro F1",
    "tone_accuracy": "tone accuracy",
    "tone_macro_f1": "tone macro F1",
}
LEVEL = 0.95
# Bounds checked before any resample is drawn, so a --bootstrap too large to hold is a one-line error
# instead of a MemoryError after the model has run: far more resamples than a 95% interval needs,
# and the numbers held per resample (weights over articles, per-label counts) times resamples.
MAX_RESAMPLES = 100_000
MAX_BOOTSTRAP_VALUES = 2**29  # float64: 4 GiB


@dataclass(frozen=True)
class ArticleCounts:
    """Per-article sums of the counts the headline metrics are made of.

    Columns of `table`: topic TP, FP, FN (one per topic each), tone TP, FP, FN (one per tone
    each), right tones, sentences.
    """

    table: np.ndarray  # (n_articles, 3 * n_topics + 3 * n_tones + 2)
    n_topics: int
    n_tones: int


def article_codes(articles: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer article index per sentence, and the article ids in order of first appearance."""
    order: dict[str, int] = {}
    codes = np.array([order.setdefault(a, len(order)) for a in articles], dtype=int)
    return codes, list(order)


def count_by_article(
    gold_topics: np.ndarray,
    predicted_topics: np.ndarray,
    gold_tones: np.ndarray,
    predicted_tones: np.ndarray,
    n_tones: int,
    codes: np.ndarray,
) -> ArticleCounts:
    """Sum each sentence's TP/FP/FN/right indicators into its article's row."""
    gold_t = np.asarray(gold_topics, dtype=bool)
    pred_t = np.asarray(predicted_topics, dtype=bool)
    tones = np.arange(n_tones)
    gold_o = np.asarray(gold_tones)[:, None] == tones
    pred_o = np.asarray(predicted_tones)[:, None] == tones
    per_sentence = np.hstack(
        [
            gold_t & pred_t,
            ~gold_t & pred_t,
            gold_t & ~pred_t,
            gold_o & pred_o,
            ~gold_o & pred_o,
            gold_o & ~pred_o,
            (np.asarray(gold_tones) == np.asarray(predicted_tones))[:, None],
            np.ones((len(gold_t), 1), dtype=bool),
        ]
    ).astype(float)
    n_articles = int(codes.max()) + 1 if len(codes) else 0
    table = np.zeros((n_articles, per_sentence.shape[1]))
    np.add.at(table, codes, per_sentence)
    return ArticleCounts(table, gold_t.shape[1], n_tones)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, undefined: np.ndarray | float) -> np.ndarray:
    """numerator / denominator, and `undefined` (NaN or a number) where the denominator is 0."""
    safe = np.where(denominator > 0, denominator, 1)
    return np.where(denominator > 0, numerator / safe, undefined)


def _nanmean(values: np.ndarray) -> np.ndarray:
    """Row means over the defined (non-NaN) entries; NaN for a row with none, without a warning."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=1)
    total = np.where(defined, values, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _f1s(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, occurs: np.ndarray) -> np.ndarray:
    """Per-label F1 per row. A label absent from a resample (no gold, no prediction) is undefined
    there (NaN) and left out of the macro mean; a label absent from all the scored data counts 0,
    as scikit-learn's zero_division=0 does, so point estimates match the `topics`/`tone` keys."""
    return _ratio(2 * tp, 2 * tp + fp + fn, np.where(occurs, np.nan, 0.0))


def headline_from_totals(totals: np.ndarray, n_topics: int, n_tones: int, occurs: np.ndarray) -> dict[str, np.ndarray]:
    """The four headline metrics for each row of summed counts (one row per resample).

    `occurs` marks the topics and tones (in that order) present in the whole scored data, in gold
    or predictions. A metric undefined in a resample (say micro F1 over articles with no topic at
    all) is NaN there, and that resample is left out of its interval.
    """
    k, m = n_topics, n_tones
    tp, fp, fn = totals[:, :k], totals[:, k : 2 * k], totals[:, 2 * k : 3 * k]
    o = 3 * k
    tone_tp, tone_fp, tone_fn = totals[:, o : o + m], totals[:, o + m : o + 2 * m], totals[:, o + 2 * m : o + 3 * m]
    right, sentences = totals[:, -2], totals[:, -1]
    micro_tp, micro_errors = tp.sum(axis=1), fp.sum(axis=1) + fn.sum(axis=1)
    return {
        "topic_micro_f1": _ratio(2 * micro_tp, 2 * micro_tp + micro_errors, np.nan if occurs[:k].any() else 0.0),
        "topic_macro_f1": _nanmean(_f1s(tp, fp, fn, occurs[:k])),
        "tone_accuracy": _ratio(right, sentences, np.nan),
        "tone_macro_f1": _nanmean(_f1s(tone_tp, tone_fp, tone_fn, occurs[k:])),
    }


def _occurs(counts: ArticleCounts) -> np.ndarray:
    totals = counts.table.sum(axis=0)
    k, m = counts.n_topics, counts.n_tones
    topic = totals[:k] + totals[k : 2 * k] + totals[2 * k : 3 * k]
    tone = totals[3 * k : 3 * k + m] + totals[3 * k + m : 3 * k + 2 * m] + totals[3 * k + 2 * m : 3 * k + 3 * m]
    return np.concatenate([topic, tone]) > 0


def point_estimates(counts: ArticleCounts) -> dict[str, float]:
    totals = counts.table.sum(axis=0, keepdims=True)
    values = headline_from_totals(totals, counts.n_topics, counts.n_tones, _occurs(counts))
    return {k: float(np.nan_to_num(v[0])) for k, v in values.items()}


def check_resamples(resamples: int, per_resample: int = 0, what: str = "") -> None:
    """Refuse `--bootstrap N` (one line, with the N that would fit) when N is past MAX_RESAMPLES, or
    when N resamples of `per_resample` numbers each (`what` they are) exceed MAX_BOOTSTRAP_VALUES."""
    fix = "1000 is a good default"
    if resamples > MAX_RESAMPLES:
        raise UserError(
            f"--bootstrap {resamples}: more resamples than allowed; pass --bootstrap {MAX_RESAMPLES} or fewer ({fix})"
        )
    if resamples * per_resample > MAX_BOOTSTRAP_VALUES:
        need = resamples * per_resample * 8 / 2**30
        most = min(MAX_RESAMPLES, max(1, MAX_BOOTSTRAP_VALUES // per_resample))
        raise UserError(
            f"--bootstrap {resamples}: {resamples} resamples of {what} would need {need:.1f} GiB of memory "
            f"(the bound is {MAX_BOOTSTRAP_VALUES * 8 / 2**30:.0f} GiB); pass --bootstrap {most} or fewer ({fix})"
        )


def resample_weights(n_articles: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_articles) counts: how often each article is drawn in each resample.

    Drawing n articles with replacement is a multinomial draw over articles; sharing one weight
    matrix between systems makes their comparison paired.
    """
    check_resamples(resamples, 2 * n_articles, f"{n_articles} articles")  # drawn as integers, kept as floats
    rng = np.random.default_rng(seed)
    try:
        return rng.multinomial(n_articles, np.full(n_articles, 1.0 / n_articles), size=resamples).astype(float)
    except MemoryError as err:
        raise UserError(
            f"--bootstrap {resamples}: not enough memory for {resamples} resamples of {n_articles} articles; "
            "pass a smaller --bootstrap (1000 is a good default)"
        ) from err


def bootstrap_headline(counts: ArticleCounts, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each headline metric on every resample: arrays of shape (resamples,)."""
    return headline_from_totals(weights @ counts.table, counts.n_topics, counts.n_tones, _occurs(counts))


def percentile_interval(values: np.ndarray, fallback: float, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval over the resamples where the metric is defined (`fallback` if none is)."""
    values = values[~np.isnan(values)]
    if not len(values):
        return fallback, fallback
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def intervals(counts: ArticleCounts, weights: np.ndarray) -> dict[str, dict[str, float]]:
    """Point estimate and percentile interval of each headline metric."""
    point = point_estimates(counts)
    samples = bootstrap_headline(counts, weights)
    out = {}
    for name in HEADLINE:
        low, high = percentile_interval(samples[name], point[name])
        out[name] = {"value": point[name], "low": low, "high": high}
    return out


def paired_difference(a: ArticleCounts, b: ArticleCounts, weights: np.ndarray) -> dict[str, dict[str, Any]]:
    """B minus A on the same resampled articles, per headline metric.

    `sign_flip_share` is the share of resamples whose difference is zero or has the opposite
    sign of the observed one: a one-sided, p-value-like number (1.0 when nothing differs).
    `significant` means the 95% interval of the difference excludes zero.
    """
    point_a, point_b = point_estimates(a), point_estimates(b)
    samples_a, samples_b = bootstrap_headline(a, weights), bootstrap_headline(b, weights)
    out: dict[str, dict[str, Any]] = {}
    for name in HEADLINE:
        observed = point_b[name] - point_a[name]
        diffs = samples_b[name] - samples_a[name]
        diffs = diffs[~np.isnan(diffs)]
        low, high = percentile_interval(diffs, observed)
        if observed > 0 and len(diffs):
            flips = float(np.mean(diffs <= 0))
        elif observed < 0 and len(diffs):
            flips = float(np.mean(diffs >= 0))
        else:
            flips = 1.0
        out[name] = {
            "a": point_a[name],
            "b": point_b[name],
            "difference": observed,
            "low": low,
            "high": high,
            "sign_flip_share": flips,
            "significant": bool(low > 0 or high < 0),
        }
    return out
