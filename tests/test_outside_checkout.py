"""stancetag away from its checkout: the packaged config, config-relative paths, STANCETAG_MODEL, and
`pip install .` into a fresh venv used from another directory."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.config import default_config_path, load_config

from .conftest import TINY_DATA

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_relative_paths_in_a_config_are_relative_to_its_folder(tmp_path, tiny_base_model):
    raw = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    (tmp_path / "encoders" / "tiny").parent.mkdir()
    shutil.copytree(tiny_base_model, tmp_path / "encoders" / "tiny")
    raw["model"]["base_model"] = "../encoders/tiny"
    raw["data"].update(train="../data/train.jsonl", dev=str(tmp_path / "abs" / "dev.jsonl"), test=None)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mine.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp_path / "configs" / "mine.yaml")
    assert config.data.train == str(tmp_path / "data" / "train.jsonl")
    assert config.data.dev == str(tmp_path / "abs" / "dev.jsonl") and config.data.test is None
    assert config.model.base_model == str(tmp_path / "encoders" / "tiny")
    raw["model"]["base_model"] = "sentence-transformers/all-MiniLM-L6-v2"  # not a folder there: a hub name
    (tmp_path / "configs" / "mine.yaml").write_text(yaml.safe_dump(raw))
    assert load_config(tmp_path / "configs" / "mine.yaml").model.base_model == raw["model"]["base_model"]


def test_the_checkout_config_reads_the_same_from_its_own_root():
    config = load_config("configs/default.yaml")
    assert (config.data.train, config.data.dev, config.data.test) == (
        "seeds/train.jsonl",
        "seeds/dev.jsonl",
        "seeds/test.jsonl",
    )


def test_without_a_checkout_the_packaged_config_is_the_default(tmp_path, monkeypatch):
    assert default_config_path() == Path("configs/default.yaml")  # the tests run from the checkout
    monkeypatch.chdir(tmp_path)
    packaged = default_config_path()
    assert packaged.is_file() and packaged.name == "default.yaml"
    assert load_config(packaged).labels == load_config(ROOT / "configs" / "default.yaml").labels
    shutil.copy(TINY_DATA, tmp_path / "mine.jsonl")
    checked = runner.invoke(app, ["check", "mine.jsonl"])
    assert checked.exit_code == 0, checked.output
    assert "mine.jsonl: 60 sentences in 8 articles" in checked.stdout
    raw = yaml.safe_load(packaged.read_text())
    raw["data"].update(train="nowhere.jsonl", dev=None)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    trained = runner.invoke(app, ["train", "--config", "c.yaml", "--epochs", "1"])
    assert trained.exit_code == 2
    assert trained.stderr.strip().endswith("no such data file (data.train of the config); pass --data FILE")


def test_stancetag_model_names_the_default_model(trained_tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("Tariffs rose on Monday. Talks resume in May.\n")
    tagged = runner.invoke(app, ["predict", "a.txt"], env={"STANCETAG_MODEL": str(trained_tiny)})
    assert tagged.exit_code == 0, tagged.output
    assert [json.loads(line)["sentence_index"] for line in tagged.stdout.splitlines()] == [0, 1]
    missing = runner.invoke(app, ["predict", "a.txt"], env={"STANCETAG_MODEL": ""})
    assert missing.exit_code == 2 and "artifacts/default: not a model directory" in missing.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install .` (pinned, not editable) into a fresh venv without the system's site-packages."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"  # a copy, so the build leaves nothing (build/, egg-info) in the checkout
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "artifacts", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
        ),
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(ROOT / "constraints.txt")]
        + [str(source)],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(source)
    return venv


def _run(venv: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "STANCETAG_MODEL")}
    return subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=600, env={**clean, **(env or {})}
    )


@pytest.mark.slow
def test_pip_installed_stancetag_works_from_another_directory(installed, trained_tiny, tiny_base_model, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "article.txt").write_text("Tariffs rose on Monday. Chinese warships sailed near Taiwan.\n")
    shutil.copy(TINY_DATA, elsewhere / "labeled.jsonl")
    stancetag = str(installed / "bin" / "stancetag")

    where = _run(
        installed, elsewhere, str(installed / "bin" / "python"), "-c", "import stancetag; print(stancetag.__file__)"
    )
    assert where.returncode == 0 and where.stdout.startswith(str(installed)), where.stdout + where.stderr

    tagged = _run(installed, elsewhere, stancetag, "predict", "--model", str(trained_tiny), "article.txt")
    assert tagged.returncode == 0, tagged.stderr
    records = [json.loads(line) for line in tagged.stdout.splitlines()]
    assert [(r["article"], r["sentence_index"]) for r in records] == [("article", 0), ("article", 1)]

    by_env = _run(installed, elsewhere, stancetag, "predict", "article.txt", env={"STANCETAG_MODEL": str(trained_tiny)})
    assert by_env.returncode == 0 and by_env.stdout == tagged.stdout, by_env.stderr

    checked = _run(installed, elsewhere, stancetag, "check", "labeled.jsonl")
    assert checked.returncode == 0, checked.stderr
    assert "labeled.jsonl: 60 sentences in 8 articles" in checked.stdout

    api = _run(
        installed,
        elsewhere,
        str(installed / "bin" / "python"),
        "-c",
        "import json; from stancetag import Tagger\n"
        f"tagger = Tagger.load({str(trained_tiny)!r})\n"
        "print(json.dumps(tagger.tag_articles({'article': open('article.txt').read()})))",
    )
    assert api.returncode == 0, api.stderr
    assert json.loads(api.stdout) == records

    auto = _run(
        installed,
        elsewhere,
        str(installed / "bin" / "python"),
        "-c",
        "import stancetag\nfrom transformers import AutoModel\n"
        f"model = AutoModel.from_pretrained({str(trained_tiny)!r}, trust_remote_code=False)\n"
        "print(type(model).__name__, model.config.topics)",
    )
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.strip() == "StanceTagger ['taiwan', 'trade', 'military_ties']"

    corpus = elsewhere / "corpus"  # exported by the checkout's script, read by the installed datasets
    exported = subprocess.run(
        [sys.executable, str(ROOT / "seeds" / "export_dataset.py"), "--output", str(corpus)], capture_output=True
    )
    assert exported.returncode == 0, exported.stderr
    loaded = _run(
        installed,
        elsewhere,
        str(installed / "bin" / "python"),
        "-c",
        "from datasets import load_dataset\ncorpus = load_dataset('corpus')\n"
        "print(sorted(corpus), corpus['train'].features['tone'].names)",
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "['test', 'train', 'validation'] ['cooperative', 'contentious', 'neutral']"

    trained = _run(
        installed,
        elsewhere,
        stancetag,
        "train",
        "--data",
        "corpus/data/validation.parquet",
        "--base-model",
        str(tiny_base_model),
        "--epochs",
        "1",
        "--output",
        "mine",
    )
    assert trained.returncode == 0, trained.stderr
    assert (elsewhere / "mine" / "README.md").is_file() and (elsewhere / "mine" / "config.json").is_file()
