"""A trained model folder is a Hugging Face model folder: config.json of model_type "stancetag",
save_pretrained safetensors, AutoModel after `import stancetag`; old folders fail with "retrain"."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["Tariffs rose on Monday.", "Chinese warships sailed near Taiwan, officials said."]
runner = CliRunner()

# Loads the folder with transformers' Auto classes only, and prints the probabilities stancetag would give.
AUTO_PROBE = """
import json, sys
{first}
from transformers import AutoConfig, AutoModel, AutoTokenizer
import torch
folder, sentences = sys.argv[1], json.loads(sys.argv[2])
config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
model = AutoModel.from_pretrained(folder, trust_remote_code=False).eval()
tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
batch = tokenizer(sentences, padding=True, truncation=True, max_length=config.max_length, return_tensors="pt")
with torch.inference_mode():
    topic_logits, tone_logits = model(**batch)
print(json.dumps({{
    "class": type(model).__name__, "config": type(config).__name__, "topics": config.topics, "tones": config.tones,
    "topic_p": torch.sigmoid(topic_logits).tolist(),
    "tone_p": torch.softmax(tone_logits / config.tone_temperature, dim=-1).tolist(),
}}))
"""


def _auto(folder: Path, first: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", AUTO_PROBE.format(first=first), str(folder), json.dumps(SENTENCES)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_the_folder_holds_a_stancetag_config_beside_safetensors(trained_tiny):
    names = {p.name for p in trained_tiny.iterdir()}
    assert {"config.json", "model.safetensors", "stancetag.json", "tokenizer.json"} <= names
    assert not {"pytorch_model.bin", "training_args.bin"} & names  # nothing pickled
    config = json.loads((trained_tiny / "config.json").read_text())
    meta = json.loads((trained_tiny / "stancetag.json").read_text())
    assert config["model_type"] == "stancetag" and config["architectures"] == ["StanceTagger"]
    assert config["encoder"]["model_type"] == "bert" and config["pooling"] == "mean"
    assert (config["topics"], config["tones"]) == (meta["labels"]["topics"], meta["labels"]["tones"])
    assert config["thresholds"] == meta["thresholds"] and config["tone_temperature"] == meta["tone_temperature"]
    assert meta["format_version"] == 2


def test_automodel_loads_it_after_import_stancetag_in_either_order(trained_tiny):
    from stancetag import Tagger

    expected = Tagger.load(trained_tiny, device="cpu", precision="fp32").predict(SENTENCES)
    for first in ("import stancetag", "import transformers; import stancetag"):
        got = _auto(trained_tiny, first)
        assert (got["class"], got["config"]) == ("StanceTagger", "StancetagConfig")
        assert got["topics"] == ["taiwan", "trade", "military_ties"]
        for record, topic_p, tone_p in zip(expected, got["topic_p"], got["tone_p"], strict=True):
            np.testing.assert_allclose(list(record["topic_scores"].values()), topic_p, atol=1e-4)
            np.testing.assert_allclose(list(record["tone_scores"].values()), tone_p, atol=1e-4)


def test_old_or_mixed_folders_fail_with_retrain(trained_tiny, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Tariffs rose on Monday.")
    old = tmp_path / "old"
    shutil.copytree(trained_tiny, old)
    meta = json.loads((old / "stancetag.json").read_text())
    (old / "stancetag.json").write_text(json.dumps({**meta, "format_version": 1}))
    assert_one_line_error(
        runner.invoke(app, ["predict", "--model", str(old), str(article)]),
        "model format version 1, this stancetag reads version 2",
        "retrain",
    )

    bare = tmp_path / "bare-encoder-config"  # format 2 in stancetag.json, but config.json of a plain BERT
    shutil.copytree(trained_tiny, bare)
    config = json.loads((bare / "config.json").read_text())
    (bare / "config.json").write_text(json.dumps(config["encoder"]))
    assert_one_line_error(
        runner.invoke(app, ["predict", "--model", str(bare), str(article)]),
        "model_type 'bert', expected 'stancetag'",
        "retrain",
    )

    mixed = tmp_path / "mixed"
    shutil.copytree(trained_tiny, mixed)
    (mixed / "config.json").write_text(json.dumps({**config, "thresholds": dict.fromkeys(config["topics"], 0.11)}))
    assert_one_line_error(
        runner.invoke(app, ["predict", "--model", str(mixed), str(article)]),
        "`thresholds` is",
        "mixes files of different models",
    )
