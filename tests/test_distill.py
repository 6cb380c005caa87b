"""training.teacher: a student learns from a trained model's probabilities, not only the gold labels."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import TINY_DATA, assert_one_line_error, edit_model

runner = CliRunner()


def _tones(model, data) -> list[str]:
    tagged = runner.invoke(app, ["predict", "--model", str(model), "--format", "jsonl", str(data)])
    assert tagged.exit_code == 0, tagged.output
    return [json.loads(line)["tone"] for line in tagged.stdout.splitlines()]


def test_a_student_with_full_distill_weight_follows_its_teacher_not_the_gold_labels(
    trained_tiny, tiny_config, tmp_path
):
    # Gold tones turned upside down (cooperative <-> contentious): only the teacher knows better.
    rows = [json.loads(line) for line in TINY_DATA.read_text().splitlines()]
    swap = {"cooperative": "contentious", "contentious": "cooperative", "neutral": "neutral"}
    blank = tmp_path / "swapped.jsonl"
    blank.write_text("".join(json.dumps({**r, "tone": swap[r["tone"]]}) + "\n" for r in rows))
    text = tmp_path / "sentences.txt"
    text.write_text("\n\n".join(r["text"] for r in rows) + "\n")
    raw = yaml.safe_load(tiny_config.read_text())
    raw["training"]["distill_weight"] = 1.0
    tiny_config.write_text(yaml.safe_dump(raw))

    out = tmp_path / "student"
    args = ["train", "--config", str(tiny_config), "--data", str(blank), "--teacher", str(trained_tiny)]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    teacher, student = _tones(trained_tiny, text), _tones(out, text)
    assert sum(t != "neutral" for t in teacher) >= 10  # the teacher is not itself all neutral
    agreement = sum(s == t for s, t in zip(student, teacher, strict=True)) / len(teacher)
    assert agreement >= 0.8, (agreement, student, teacher)
    assert json.loads((out / "stancetag.json").read_text())["config"]["training"]["teacher"] == str(trained_tiny)


def test_a_teacher_with_other_labels_is_a_one_line_error(trained_tiny, tiny_config, tmp_path):
    import shutil

    teacher = tmp_path / "teacher"
    shutil.copytree(trained_tiny, teacher)
    edit_model(teacher, topics=["taiwan", "trade", "energy"], thresholds={"taiwan": 0.5, "trade": 0.5, "energy": 0.5})
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--teacher", str(teacher), "--output", str(tmp_path / "s")]
    )
    assert_one_line_error(result, "training.teacher", "differ from the config's", "same label sets")
    assert not (tmp_path / "s").exists()


def test_the_student_may_not_overwrite_its_teacher(trained_tiny, tiny_config, tmp_path):
    import shutil

    teacher = tmp_path / "teacher"
    shutil.copytree(trained_tiny, teacher)
    before = (teacher / "model.safetensors").read_bytes()
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--teacher", str(teacher), "--output", str(teacher), "--force"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (teacher / "model.safetensors").read_bytes() == before
