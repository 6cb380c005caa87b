"""The bench scripts run end to end on a CPU with the tiny model (their figures are not checked here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TINY_DATA

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import gpu_check  # noqa: E402  (bench/ is not a package)

VENV = Path(sys.prefix)


def test_gpu_check_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "bench" / "gpu_check.sh")], check=True)


def test_constraints_keep_the_pins_of_what_is_missing_only(tmp_path):
    pins = tmp_path / "constraints.txt"
    pins.write_text("# a comment\ntorch==0.0.1\nno-such-package-for-stancetag==1.0\nPyYAML\n")
    text = gpu_check.constraints(pins)
    assert text.splitlines()[1:] == ["no-such-package-for-stancetag==1.0"]
    assert "left as they are: torch " in text.splitlines()[0]


@pytest.mark.slow
@pytest.mark.skipif(not (VENV / "bin" / "stancetag").exists(), reason="needs the stancetag command in this venv")
def test_gpu_check_runs_on_cpu_with_the_tiny_model(tiny_config, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")},
        "SKIP_INSTALL": "1",
        "VENV": str(VENV),
        "WORK": str(tmp_path / "work"),
        "DEVICE": "cpu",
        "CONFIG": str(tiny_config),
        "TRAIN_ARGS": "--epochs 1",
        "SENTENCES": "120",
        "SAMPLE": "40",
        "PROCS": "2",
        "SOURCE": str(TINY_DATA),
    }
    result = subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("== results")
    assert [line.split("  ")[0] for line in lines[1:]] == [
        "transformers pipeline, batch 32 (model only)",
        "stancetag Predictor.score (model only)",
        "stancetag predict, 1 process (end to end)",
        "stancetag predict, 2 processes (end to end)",
    ]
    assert all("x the pipeline" in line for line in lines[1:])
    assert " 120 sentences" in lines[3] and " 120 sentences" in lines[4]


@pytest.mark.slow
def test_train_speed_prints_both_loops_and_the_ratio(tiny_config):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_speed.py"), "--config", str(tiny_config)]
        + ["--data", str(TINY_DATA), "--sentences", "40", "--epochs", "1", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout.splitlines()[-4:]
    assert table[0].split()[-1] == "Trainer" and "x Trainer" in table[0]
    assert table[1].startswith("Hugging Face Trainer, defaults (fp32)") and table[1].endswith("1.00")
    assert table[2].startswith("stancetag, precision auto") and table[3].startswith("stancetag, precision fp32")


def test_active_learning_simulation_prints_a_learning_curve_per_strategy(tmp_path):
    out = tmp_path / "points.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "active_learning.py"), "--repeats", "1", "--seed-size", "20"]
        + ["--budgets", "20,40", "--step", "20", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    pool = sum(1 for line in (ROOT / "seeds" / "train.jsonl").read_text().splitlines() if line.strip())
    assert lines[0].startswith(f"learner tfidf; pool seeds/train.jsonl ({pool} sentences)")
    table = lines[lines.index("tone_macro_f1") + 1 : lines.index("tone_macro_f1") + 5]
    assert table[0].split()[:3] == ["budget", "uncertainty", "random"]
    assert [row.split()[0] for row in table[1:]] == ["0", "20", "40"]
    points = json.loads(out.read_text())["results"][0]
    assert set(points) == {"uncertainty", "random"} and set(points["random"]) == {"0", "20", "40"}
    assert points["uncertainty"]["0"] == points["random"]["0"], "both strategies start from the same seed set"


@pytest.mark.slow
def test_encoder_probe_prints_every_register_and_the_means(tiny_base_model):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "encoder_probe.py"), "--encoders", str(tiny_base_model)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and str(tiny_base_model) in line]
    registers = {json.loads(line).get("register", "wire") for line in (ROOT / "seeds" / "test.jsonl").open()}
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [
        *sorted(registers),
        f"mean of {len(registers)} registers",
    ]
    assert all(row.count("->") == 2 for row in rows)
