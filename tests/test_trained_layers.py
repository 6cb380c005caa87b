"""training.trained_layers: only the top layers learn, the embeddings and the layers below stay as
pretrained, and the saved model predicts like any other."""

from __future__ import annotations

import json

import pytest
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.config import load_config

from .conftest import assert_one_line_error

runner = CliRunner()


def _trained(config_path, tmp_path, trained_layers):
    raw = yaml.safe_load(config_path.read_text())
    raw["training"].update(trained_layers=trained_layers, epochs=3, patience=3)
    config_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--config", str(config_path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _changed(base_model, out) -> dict[str, bool]:
    """Per encoder weight of the base model: did training change it?"""
    base = load_file(base_model / "model.safetensors")
    trained = {k.removeprefix("encoder."): v for k, v in load_file(out / "model.safetensors").items()}
    return {k: not trained[k].equal(base[k]) for k in base}


def test_only_the_top_layers_learn_and_the_model_predicts(tiny_config, tiny_base_model, tmp_path):
    out = _trained(tiny_config, tmp_path, 1)  # the tiny BERT has 2 layers: layer 1 learns
    changed = _changed(tiny_base_model, out)
    frozen = [k for k in changed if k.startswith(("embeddings.", "encoder.layer.0."))]
    learned = [k for k in changed if k.startswith("encoder.layer.1.")]
    assert frozen and learned
    assert not any(changed[k] for k in frozen)
    assert any(changed[k] for k in learned)
    assert json.loads((out / "stancetag.json").read_text())["config"]["training"]["trained_layers"] == 1

    tagged = runner.invoke(
        app, ["predict", "--model", str(out), "--format", "jsonl", "-"], input="Taiwan held drills.\n"
    )
    assert tagged.exit_code == 0, tagged.output
    assert json.loads(tagged.stdout.splitlines()[0])["tone"] in ("cooperative", "contentious", "neutral")


def test_as_many_trained_layers_as_the_encoder_has_trains_everything(tiny_config, tiny_base_model, tmp_path):
    """So a config written for a deep encoder still trains a shallower `--base-model` whole."""
    changed = _changed(tiny_base_model, _trained(tiny_config, tmp_path, 12))
    assert any(changed[k] for k in changed if k.startswith("embeddings."))
    assert any(changed[k] for k in changed if k.startswith("encoder.layer.0."))


@pytest.mark.parametrize("value", [0, "two"])
def test_a_bad_trained_layers_value_is_named(tiny_config, value):
    raw = yaml.safe_load(tiny_config.read_text())
    raw["training"]["trained_layers"] = value
    tiny_config.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["train", "--config", str(tiny_config)])
    assert_one_line_error(result, "training.trained_layers")


def test_a_config_written_before_trained_layers_existed_still_loads(tiny_config):
    raw = yaml.safe_load(tiny_config.read_text())
    raw["training"].pop("trained_layers", None)
    tiny_config.write_text(yaml.safe_dump(raw))
    assert load_config(tiny_config).training.trained_layers is None
