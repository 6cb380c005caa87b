"""The correction behind `stancetag trends`: adjusted classify-and-count, as QuaPy computes it."""

import warnings

import numpy as np
import pytest

from stancetag.evaluation.quantify import AdjustedCount, LabeledSample, Sample, solve


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _classifier_outputs(rng, gold, k=3, bias=0.8):
    """Probabilities of a classifier that leans towards class 1."""
    logits = rng.normal(size=(len(gold), k)) + 1.5 * np.eye(k)[gold] + bias * np.eye(k)[1]
    return _softmax(logits)


def test_binary_correction_undoes_a_known_bias():
    """tpr 0.8, fpr 0.25: a true share of 20% is seen as 36%; the correction gives back 20%."""
    rates = np.array([[[0.75, 0.2], [0.25, 0.8]]])  # M[predicted, true]: columns are the true classes
    observed = np.array([[0.64, 0.36]])
    np.testing.assert_allclose(solve(rates, observed), [[0.8, 0.2]], atol=1e-12)
    # an observation the rates cannot produce is clipped to the nearest share, not below zero
    np.testing.assert_allclose(solve(rates, np.array([[0.9, 0.1]])), [[1.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("method", ["acc", "pacc"])
def test_point_estimates_equal_quapy(method):
    """Same calibration predictions, same test predictions: the same shares as QuaPy's ACC / PACC
    (exact solve, clipped and renormalised)."""
    from sklearn.dummy import DummyClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from quapy.method.aggregative import ACC, PACC

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 400)
    probabilities = _classifier_outputs(rng, gold)
    test_gold = rng.choice(3, 300, p=[0.2, 0.6, 0.2])
    test_probabilities = _classifier_outputs(rng, test_gold)
    classifier = DummyClassifier().fit(np.zeros((3, 1)), np.arange(3))  # only its classes_ are used
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = (ACC if method == "acc" else PACC)(classifier, fit_classifier=False, solver="exact-raise")
        reference.aggregation_fit(probabilities.argmax(1) if method == "acc" else probabilities, gold)
        expected = reference.aggregate(test_probabilities.argmax(1) if method == "acc" else test_probabilities)

    ours = AdjustedCount(method, resamples=20).fit(
        LabeledSample.from_items(gold, probabilities.argmax(1), probabilities, np.arange(400) // 10)
    )
    estimate = ours.estimate(Sample.from_items(test_probabilities.argmax(1), test_probabilities, np.arange(300) // 10))
    np.testing.assert_allclose(estimate.corrected, expected, atol=1e-9)
    # and the classifier's lean towards class 1 is what the correction removes
    raw_error = abs(estimate.raw[1] - np.mean(test_gold == 1))
    assert abs(estimate.corrected[1] - np.mean(test_gold == 1)) < raw_error


def test_intervals_widen_when_the_error_rates_are_uncertain():
    """Resampling the calibration set (the default) gives wider intervals than fixed rates."""
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 200)
    probabilities = _classifier_outputs(rng, gold)
    calibration = LabeledSample.from_items(gold, probabilities.argmax(1), probabilities, np.arange(200) // 10)
    test_gold = rng.choice(3, 2000, p=[0.3, 0.4, 0.3])
    test_p = _classifier_outputs(rng, test_gold)
    sample = Sample.from_items(test_p.argmax(1), test_p, np.arange(2000) // 10)
    width = {}
    for resample_rates in (True, False):
        model = AdjustedCount("acc", resamples=500, seed=3, resample_rates=resample_rates).fit(calibration)
        share = model.estimate(sample).share([1])
        width[resample_rates] = share["high"] - share["low"]
    assert width[True] > 1.3 * width[False]


def test_estimate_before_fit_and_bad_settings_are_named():
    with pytest.raises(RuntimeError, match="before fit"):
        AdjustedCount().estimate(Sample(np.ones(2), np.ones((2, 2)), np.ones((2, 2))))
    calibration = LabeledSample.from_items(np.array([0, 1]), np.array([0, 1]), np.eye(2), np.array([0, 1]))
    with pytest.raises(ValueError, match="--method 'median': choose one of pacc, acc"):
        AdjustedCount("median").fit(calibration)
    with pytest.raises(ValueError, match="--bootstrap 0: expected at least 1 resample"):
        AdjustedCount(resamples=0).fit(calibration)
