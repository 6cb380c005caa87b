"""export --onnx -> predict on ONNX Runtime through the CLI, on the tiny random-init BERT (seconds, no network)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import stancetag.model.export
from stancetag.cli import app

from .conftest import TINY_DATA, assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
SEED = "seeds/seed_article.txt"
runner = CliRunner()


def _export(*args: str):
    return runner.invoke(app, ["export", "--onnx", "--check-data", str(TINY_DATA), *args])


def _records(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def exported_tiny(trained_tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny-onnx"
    result = _export("--model", str(trained_tiny), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "label agreement with fp32 torch 100.00%" in result.stderr
    return out


def test_export_writes_a_self_describing_folder(exported_tiny):
    names = {p.name for p in exported_tiny.iterdir()}
    assert {"model.onnx", "onnx.json", "stancetag.json", "tokenizer.json", "config.json"} <= names
    assert "model.safetensors" not in names
    info = json.loads((exported_tiny / "onnx.json").read_text())
    assert info["quantization"] is None and info["inputs"] == ["input_ids", "attention_mask"]
    assert info["agreement"]["labels"] >= 0.99 and info["agreement"]["sentences"] == 60
    assert not [p for p in exported_tiny.parent.iterdir() if p.name.startswith(".")], "no staging folder left"


def test_predict_on_the_export_matches_torch(trained_tiny, exported_tiny):
    torch_records = _records(runner.invoke(app, ["predict", "--model", str(trained_tiny), SEED]))
    onnx_records = _records(runner.invoke(app, ["predict", "--model", str(exported_tiny), SEED]))
    assert len(onnx_records) == len(torch_records) == 29
    for a, b in zip(torch_records, onnx_records, strict=True):
        assert (a["text"], a["topics"], a["tone"]) == (b["text"], b["topics"], b["tone"])
        for key in ("topic_scores", "tone_scores"):
            np.testing.assert_allclose(list(a[key].values()), list(b[key].values()), atol=2e-4)


def test_export_uses_the_models_own_data_by_default(trained_tiny, tmp_path):
    out = tmp_path / "default-data"
    result = runner.invoke(app, ["export", "--onnx", "--model", str(trained_tiny), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"sentences of {TINY_DATA}" in result.stderr  # the training file the model records


@pytest.mark.slow
def test_int8_is_refused_below_the_agreement_floor(trained_tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(stancetag.model.export, "AGREEMENT_FLOOR", 1.01)  # no export can reach it
    out = tmp_path / "int8"
    result = _export("--model", str(trained_tiny), "--output", str(out), "--quantize", "int8")
    assert_one_line_error(result, "export int8: label agreement with fp32 torch is", "nothing written", "--quantize")
    assert not out.exists() and not list(tmp_path.iterdir()), "nothing written, not even a staging folder"


@pytest.mark.slow
def test_int8_is_written_at_or_above_the_floor(trained_tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(stancetag.model.export, "AGREEMENT_FLOOR", 0.0)
    out = tmp_path / "int8"
    result = _export("--model", str(trained_tiny), "--output", str(out), "--quantize", "int8")
    assert result.exit_code == 0, result.output
    info = json.loads((out / "onnx.json").read_text())
    assert info["quantization"] == "int8" and info["agreement"]["floor"] == 0.0
    records = _records(runner.invoke(app, ["predict", "--model", str(out), SEED]))
    assert len(records) == 29
    refused = runner.invoke(app, ["predict", "--model", str(out), "--precision", "fp32", SEED])
    assert_one_line_error(refused, "fixed at int8")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--quantize", "int4"], "--quantize 'int4': choose int8"),
        (["--check-data", "no/such.jsonl"], "no such check data file"),
    ],
)
def test_bad_export_options_are_one_line_errors(trained_tiny, tmp_path, args, fragment):
    result = runner.invoke(
        app, ["export", "--onnx", "--model", str(trained_tiny), "--output", str(tmp_path / "x"), *args]
    )
    assert_one_line_error(result, fragment)
    assert not list(tmp_path.iterdir())


def test_export_needs_onnx_and_never_overwrites_a_model(trained_tiny, tmp_path):
    assert_one_line_error(runner.invoke(app, ["export", "--model", str(trained_tiny)]), "--onnx is the only one")
    target = tmp_path / "a-model"
    shutil.copytree(trained_tiny, target)
    result = _export("--model", str(trained_tiny), "--output", str(target))
    assert_one_line_error(result, "holds files that are not an earlier ONNX export")
    assert (target / "model.safetensors").is_file()


def test_missing_or_corrupt_onnx_file_is_aassert_one_line_error(exported_tiny, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(exported_tiny, broken)
    (broken / "model.onnx").unlink()
    assert_one_line_error(runner.invoke(app, ["predict", "--model", str(broken), SEED]), "model.onnx: missing")
    (broken / "model.onnx").write_bytes(b"this is not a protobuf")
    assert_one_line_error(
        runner.invoke(app, ["predict", "--model", str(broken), SEED]), "not a readable ONNX model", "export it again"
    )


@pytest.mark.slow
def test_predict_speed_bench_prints_every_path(trained_tiny):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "predict_speed.py"), "--model", str(trained_tiny)]
        + ["--data", str(TINY_DATA), "--check-data", str(TINY_DATA), "--sentences", "40", "--skip-default-pipeline"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("path"))
    rows = [line[:44].strip() for line in lines[header + 1 : header + 6]]
    assert rows[:4] == [
        "transformers pipeline, batch_size=32",
        "stancetag torch fp32",
        "stancetag torch bf16 autocast",
        "stancetag ONNX Runtime fp32",
    ]
    assert lines[header + 1].split()[-3] == "1.00"  # the batch-32 pipeline is the reference of the ratios
    assert lines[header + 2].endswith("100.00%")  # fp32 torch agrees with itself
    assert any(line.startswith("stancetag ONNX Runtime int8: ") for line in lines)  # a row, or why it is not offered


def test_predict_on_an_export_imports_neither_torch_nor_transformers(exported_tiny, tmp_path):
    """The ONNX path's cold start: tagging with an export must not pay for importing torch."""
    article = tmp_path / "one.txt"
    article.write_text("The two sides agreed to resume talks.\n", encoding="utf-8")
    probe = (
        "import sys\n"
        "from stancetag.cli import app\n"
        f"sys.argv = ['stancetag', 'predict', '--model', {str(exported_tiny)!r}, {str(article)!r}]\n"
        "try:\n    app()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tone"] in ("cooperative", "contentious", "neutral")
    assert result.stderr.strip().splitlines()[-1] == "[]"
