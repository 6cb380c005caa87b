"""The YAML config: every key required, unknown keys and wrong types named in one line."""

import re

import pytest
import yaml

from stancetag.config import load_config, with_overrides
from stancetag.errors import UserError

DEFAULT = "configs/default.yaml"


def _write(tmp_path, mutate):
    raw = yaml.safe_load(open(DEFAULT))
    mutate(raw)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_config_loads_with_labels_from_yaml():
    config = load_config(DEFAULT)
    assert config.labels.topics == ("taiwan", "trade", "military_ties")
    assert config.labels.tones == ("cooperative", "contentious", "neutral")


def test_unknown_key_is_named_with_suggestion(tmp_path):
    path = _write(tmp_path, lambda r: r["training"].update(epochz=3))
    with pytest.raises(UserError, match=re.escape('unknown key `training.epochz` — did you mean "epochs"?')):
        load_config(path)


def test_wrong_type_is_named(tmp_path):
    path = _write(tmp_path, lambda r: r["training"].update(epochs="ten"))
    with pytest.raises(UserError, match=re.escape("`training.epochs` must be of type int, found 'ten'")):
        load_config(path)


def test_missing_key_is_named(tmp_path):
    path = _write(tmp_path, lambda r: r["model"].pop("max_length"))
    with pytest.raises(UserError, match=re.escape("missing required key `model.max_length`")):
        load_config(path)


def test_overrides_are_validated():
    config = with_overrides(load_config(DEFAULT), {"training.epochs": 2})
    assert config.training.epochs == 2
    with pytest.raises(UserError, match="training.epochs must be at least 1"):
        with_overrides(config, {"training.epochs": 0})
