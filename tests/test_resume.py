"""Interrupted runs lose nothing: a killed `train` resumes to the same model; `predict --resume`."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.training.checkpoint import checkpoint_directory

runner = CliRunner()


def _train_cmd(config, out, *extra):
    return [
        sys.executable,
        "-m",
        "stancetag.cli",
        "--quiet",
        "train",
        "--config",
        str(config),
        "--output",
        str(out),
        "--epochs",
        "12",
        *extra,
    ]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [(), ("--trained-layers", "1")], ids=["every-layer", "top-layer-only"])
def test_killed_training_keeps_old_model_and_resumes_to_same_result(tiny_config, trained_tiny, tmp_path, recipe):
    reference = tmp_path / "reference"
    subprocess.run(_train_cmd(tiny_config, reference, *recipe), check=True, capture_output=True)

    out = tmp_path / "model"
    shutil.copytree(trained_tiny, out)  # a previous model that must survive the kill
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    process = subprocess.Popen(
        _train_cmd(tiny_config, out, *recipe), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state = checkpoint_directory(out) / "state.pt"
    deadline = time.time() + 120
    while not state.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state.exists(), "training never reached its first checkpoint"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "the previous model was touched"

    result = subprocess.run(_train_cmd(tiny_config, out, *recipe, "--resume"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    resumed = json.loads((out / "stancetag.json").read_text())
    expected = json.loads((reference / "stancetag.json").read_text())
    assert resumed["dev_metrics"] == expected["dev_metrics"]
    assert resumed["thresholds"] == expected["thresholds"]
    assert [h["loss"] for h in resumed["training"]["history"]] == [h["loss"] for h in expected["training"]["history"]]
    assert (out / "model.safetensors").read_bytes() == (reference / "model.safetensors").read_bytes()
    assert not checkpoint_directory(out).exists()


@pytest.mark.slow
def test_resume_refuses_a_checkpoint_of_another_run(tiny_config, tmp_path):
    out = tmp_path / "model"
    process = subprocess.Popen(_train_cmd(tiny_config, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = checkpoint_directory(out) / "state.pt"
    deadline = time.time() + 120
    while not state.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--output", str(out), "--seed", "99", "--epochs", "12", "--resume"]
    )
    assert result.exit_code == 2
    assert "checkpoint was made with a different config" in result.stderr


def test_predict_resume_skips_articles_already_written(trained_tiny, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(4):
        (folder / f"art{i}.txt").write_text(f"Article {i} says tariffs rose. Talks resumed on day {i}.")
    full = tmp_path / "full.jsonl"
    assert (
        runner.invoke(app, ["predict", "--model", str(trained_tiny), "--output", str(full), str(folder)]).exit_code == 0
    )
    lines = full.read_text().splitlines()

    out = tmp_path / "tags.jsonl"
    partial = tmp_path / ".tags.jsonl.partial"
    # An interrupted run: two articles and half a line of the third, which is torn off and redone.
    partial.write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    result = runner.invoke(
        app, ["predict", "--model", str(trained_tiny), "--output", str(out), "--resume", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == lines
    assert not partial.exists()
    assert "resuming: 4 sentences of 2 article(s) already in the output are skipped" in result.stderr
    assert f"wrote {len(lines)} sentences" in result.stderr


def test_predict_resume_csv(trained_tiny, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(3):
        (folder / f"art{i}.txt").write_text(f"Article {i}, with a comma, says tariffs rose.")
    full = tmp_path / "full.csv"
    runner.invoke(app, ["predict", "--model", str(trained_tiny), "--format", "csv", "--output", str(full), str(folder)])
    lines = full.read_text().splitlines()
    out = tmp_path / "tags.csv"
    (tmp_path / ".tags.csv.partial").write_text("\n".join(lines[:3]) + "\n")
    result = runner.invoke(
        app, ["predict", "--model", str(trained_tiny), "--format", "csv", "--output", str(out), "--resume", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == lines
