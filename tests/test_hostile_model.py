"""A hostile or damaged model folder (trained, ONNX export, or a base model for training) is refused
with one line, exit code 2 and nothing written, before anything in it is loaded, run or allocated."""

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import assert_one_line_error

runner = CliRunner()

# Would leave a trace if anything ever imported the folder's code.
EVIL_CODE = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('ran')\n"


def _edit(path, change):
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def _tokenizer_auto_map(folder):
    _edit(folder / "tokenizer_config.json", lambda r: r.update(auto_map={"AutoTokenizer": ["evil.Tok", None]}))


def _as_onnx_export(folder):
    """Give a copied torch folder an export's marker files; the ONNX model itself is junk, so any
    refusal that names another file shows the folder was checked before ONNX Runtime read it."""
    (folder / "onnx.json").write_text(json.dumps({"format_version": 1, "quantization": None}))
    (folder / "model.onnx").write_bytes(b"not an ONNX model")


def _refused(result, *fragments):
    assert_one_line_error(result, *fragments)
    assert "custom code" not in result.stdout  # transformers' "run the custom code?" prompt goes to stdout


def _predict(model, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Tariffs rose on Monday. " + "Talks resumed in Beijing and Taipei. " * 80)
    out = tmp_path / "tags.jsonl"
    # A "y" on standard input, as a piped answer to a prompt would be: still nothing may run.
    result = runner.invoke(app, ["predict", "--model", str(model), "--output", str(out), str(article)], input="y\n")
    assert not out.exists()
    return result


def _train(tiny_config, tmp_path, **model_settings):
    raw = yaml.safe_load(tiny_config.read_text())
    raw["model"].update(model_settings)
    tiny_config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "trained"
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--output", str(out), "--epochs", "1"], input="y\n"
    )
    assert not out.exists()
    return result


CUSTOM_CODE = [
    (
        "tokenizer auto_map",
        False,
        _tokenizer_auto_map,
        ("tokenizer_config.json", "`auto_map`", "without custom code"),
    ),
    (
        "config auto_map",
        False,
        lambda m: _edit(m / "config.json", lambda r: r.update(auto_map={"AutoModel": "evil.Model"})),
        ("config.json", "`auto_map`", "without custom code"),
    ),
    (
        "unknown tokenizer class",
        False,
        lambda m: _edit(m / "tokenizer_config.json", lambda r: r.update(tokenizer_class="EvilTokenizer")),
        ("tokenizer_config.json", "'EvilTokenizer'", "without custom code"),
    ),
    (
        "unknown architecture",
        False,
        lambda m: _edit(m / "config.json", lambda r: r["encoder"].update(architectures=["EvilModel"])),
        ("config.json", "'EvilModel'", "without custom code"),
    ),
    ("python file", False, lambda m: (m / "evil.py").write_text(EVIL_CODE), ("evil.py", "without custom code")),
    (
        "export with auto_map",
        True,
        _tokenizer_auto_map,
        ("tokenizer_config.json", "`auto_map`", "without custom code"),
    ),
]


@pytest.mark.parametrize("name,export,damage,fragments", CUSTOM_CODE, ids=[c[0] for c in CUSTOM_CODE])
def test_a_model_folder_that_names_custom_code_is_refused(trained_tiny, tmp_path, name, export, damage, fragments):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny, model)
    if export:
        _as_onnx_export(model)
    damage(model)
    _refused(_predict(model, tmp_path), *fragments)
    assert not (model / "RAN").exists()


def test_a_base_model_that_names_custom_code_is_refused(tiny_config, tiny_base_model, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_base_model, base)
    _tokenizer_auto_map(base)
    _refused(_train(tiny_config, tmp_path, base_model=str(base)), "tokenizer_config.json", "`auto_map`")

    (base / "tokenizer_config.json").write_text((tiny_base_model / "tokenizer_config.json").read_text())
    (base / "evil.py").write_text(EVIL_CODE)
    _refused(_train(tiny_config, tmp_path, base_model=str(base)), "evil.py", "without custom code")
    assert not (base / "RAN").exists()


def test_a_base_model_with_only_pickled_weights_is_refused(tiny_config, tiny_base_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    base = tmp_path / "base"
    shutil.copytree(tiny_base_model, base)
    torch.save(load_file(base / "model.safetensors"), base / "pytorch_model.bin")
    (base / "model.safetensors").unlink()
    _refused(_train(tiny_config, tmp_path, base_model=str(base)), "pytorch_model.bin", "safetensors only")


def test_a_base_model_without_its_tokenizer_settings_is_refused(tiny_config, tiny_base_model, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_base_model, base)
    for name in ("tokenizer.json", "tokenizer_config.json"):  # vocab.txt alone: casing and specials guessed
        (base / name).unlink()
    _refused(_train(tiny_config, tmp_path, base_model=str(base)), "neither tokenizer.json nor tokenizer_config.json")


MISSING = [
    ("tokenizer.json", False),  # used to load a fallback tokenizer and tag everything neutral, exit 0
    ("tokenizer_config.json", False),
    ("tokenizer_config.json", True),
]


@pytest.mark.parametrize("missing,export", MISSING, ids=["tokenizer", "tokenizer settings", "export settings"])
def test_a_model_folder_without_a_file_it_needs_is_refused(trained_tiny, tmp_path, missing, export):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny, model)
    if export:
        _as_onnx_export(model)
    (model / missing).unlink()
    _refused(_predict(model, tmp_path), f"{missing}: ", "missing", "copy the whole")


SIZES = [
    ("weights beyond memory", "config.json", {"vocab_size": 10**12}, ("config.json", "vocab_size=", "memory")),
    ("no layers", "config.json", {"num_hidden_layers": 0}, ("config.json", "`encoder.num_hidden_layers` is 0")),
    ("heads do not divide", "config.json", {"num_attention_heads": 5}, ("config.json", "num_attention_heads` 5")),
    ("beyond positions", "stancetag.json", {"max_length": 512}, ("stancetag.json", "max_position_embeddings")),
]


@pytest.mark.parametrize("name,file,change,fragments", SIZES, ids=[c[0] for c in SIZES])
def test_sizes_out_of_bounds_are_refused_before_allocation(trained_tiny, tmp_path, name, file, change, fragments):
    model = tmp_path / "model"
    shutil.copytree(trained_tiny, model)
    if file == "config.json":
        _edit(model / file, lambda r: r["encoder"].update(change))
    else:
        _edit(model / file, lambda r: r["config"]["model"].update(change))
    _refused(_predict(model, tmp_path), *fragments)


def test_base_model_sizes_out_of_bounds_are_refused_before_allocation(tiny_config, tiny_base_model, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_base_model, base)
    _edit(base / "config.json", lambda r: r.update(intermediate_size=10**12))
    _refused(_train(tiny_config, tmp_path, base_model=str(base)), "config.json", "intermediate_size=", "memory")

    (base / "config.json").write_text((tiny_base_model / "config.json").read_text())
    _refused(
        _train(tiny_config, tmp_path, base_model=str(base), max_length=512),
        "config.json",
        "fewer than model.max_length 512",
        "at most 128",
    )
