"""Tone temperature scaling: fitted on dev so confidences match accuracy, argmax unchanged."""

import json

import numpy as np

from stancetag.evaluation.calibration import fit_temperature

from .conftest import edit_model


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


def test_predict_applies_the_stored_temperature_to_the_tone_logits(trained_tiny, tmp_path):
    """predict's tone probabilities are softmax(logits / T) with the T stored in stancetag.json."""
    import shutil

    import torch
    from typer.testing import CliRunner

    from stancetag.cli import app
    from stancetag.model.predictor import encode_texts, pad_ids
    from stancetag.model.torch_backend import TorchPredictor

    model = tmp_path / "model"
    shutil.copytree(trained_tiny, model)
    edit_model(model, tone_temperature=2.5)  # far from the fitted value, so ignoring it cannot pass
    meta = json.loads((model / "stancetag.json").read_text())
    texts = ["Beijing warned Washington over Taiwan arms sales.", "The two sides agreed to resume talks."]

    predictor = TorchPredictor.from_directory(model, device="cpu", precision="fp32")
    ids, _ = encode_texts(predictor.tokenizer, texts, predictor.max_length)
    input_ids, mask = pad_ids(ids, predictor.tokenizer.pad_token_id)
    with torch.inference_mode():
        _, tone_logits = predictor.tagger(torch.from_numpy(input_ids), torch.from_numpy(mask))
    expected = _softmax(tone_logits.numpy() / 2.5)
    np.testing.assert_allclose(predictor.predict_proba(texts).tone_probabilities, expected, atol=1e-5)

    source = tmp_path / "two.txt"
    source.write_text("\n".join(texts), encoding="utf-8")
    result = CliRunner().invoke(app, ["predict", "--model", str(model), "--precision", "fp32", str(source)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    got = np.array([[r["tone_scores"][t] for t in meta["labels"]["tones"]] for r in records])
    np.testing.assert_allclose(got, expected, atol=1e-4)
