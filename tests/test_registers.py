"""Optional `register` and `era` fields: validated, scored per value, and held out by crossval --by."""

import json

import pytest
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import TINY_DATA

runner = CliRunner()


def _with_registers(path):
    """The tiny corpus with half its articles in one register, half in another (and no era on one article)."""
    rows = [json.loads(line) for line in TINY_DATA.read_text().splitlines() if line.strip()]
    for row in rows:
        row["register"] = "wire" if row["article"] in ("a0", "a1", "a2", "a3") else "opinion"
        if row["article"] != "a7":
            row["era"] = "2021-2024"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_metrics_scores_each_register(trained_tiny, tmp_path):
    data = tmp_path / "registers.jsonl"
    rows = _with_registers(data)
    result = runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["by_register"]) == {"wire", "opinion"}
    assert sum(r["n"] for r in report["by_register"].values()) == len(rows)
    assert report["by_register"]["wire"]["articles"] == 4
    assert report["by_era"]["2021-2024"]["n"] == sum(r["article"] != "a7" for r in rows)
    for row in report["by_register"].values():
        assert 0 <= row["tone_accuracy"] <= 1 and 0 <= row["topic_micro_f1"] <= 1
    table = runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(data)])
    assert "by register" in table.stdout and "opinion" in table.stdout


def test_metrics_without_registers_has_no_breakdown(trained_tiny):
    result = runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "by_register" not in json.loads(result.stdout)


def test_a_register_that_is_not_a_string_is_a_one_line_error(tiny_config, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "A sentence.", "topics": [], "tone": "neutral", "register": 7}\n')
    result = runner.invoke(app, ["check", str(data), "--config", str(tiny_config)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {data}:1: \"register\" must be a non-empty string")
    assert result.stderr.count("\n") == 1


def test_crossval_by_register_needs_two_registers(tiny_config):
    result = runner.invoke(app, ["crossval", str(TINY_DATA), "--config", str(tiny_config), "--by", "register"])
    assert result.exit_code == 2
    assert "--by register needs sentences of at least 2 registers, found 0" in result.stderr


@pytest.mark.slow
def test_crossval_leaves_one_register_out(tiny_config, tmp_path):
    data = tmp_path / "registers.jsonl"
    rows = _with_registers(data)
    args = ["crossval", str(data), "--config", str(tiny_config), "--by", "register", "--epochs", "2"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by"] == "register"
    assert {f["held_out"]: f["sentences"] for f in report["folds"]} == {
        "opinion": sum(r["register"] == "opinion" for r in rows),
        "wire": sum(r["register"] == "wire" for r in rows),
    }
    assert all(f["sentences"] + f["train_sentences"] == len(rows) for f in report["folds"])
