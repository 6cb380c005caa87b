"""Tone temperature scaling: fitted on dev so confidences match accuracy, argmax unchanged."""

import json

import numpy as np

from stancetag.evaluation.calibration import fit_temperature


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def test_overconfident_model_gets_a_temperature_above_one():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), gold] += 1.0  # the true class is favoured, moderately
    calibrated = _softmax(logits)
    overconfident = _softmax(logits * 4)
    assert abs(fit_temperature(gold, calibrated) - 1.0) < 0.15
    assert 3.0 < fit_temperature(gold, overconfident) < 5.5


def test_trained_model_stores_and_applies_its_temperature(trained_tiny):
    meta = json.loads((trained_tiny / "stancetag.json").read_text())
    assert 0.25 <= meta["tone_temperature"] <= 8.0
