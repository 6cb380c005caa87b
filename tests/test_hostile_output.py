"""A run never destroys what stancetag did not make, resumes exactly, and keeps two runs apart.

One test per class of issue #11's output side: outputs over a user's files or the run's own
input, exact resume, failures that keep the work done, races and links, and path errors as one line.
"""

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import assert_one_line_error as _refused

runner = CliRunner()
TEXTS = ["Tariffs on steel rose again. Talks resumed in Geneva.", "Warships sailed near Taiwan. Officials met."]


def _fingerprint(path: Path) -> dict[str, str]:
    """Every file under `path` (or `path` itself) and its SHA-256: to prove it was left alone."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _articles(folder: Path, n: int = 2) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"a{i}.txt").write_text(TEXTS[i % 2] + f" Day {i}.", encoding="utf-8")
    return folder


def _predict(model: Path, *args) -> object:
    return runner.invoke(app, ["predict", "--model", str(model), *map(str, args)])


def test_outputs_never_replace_a_users_folder_or_file(tiny_config, trained_tiny, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.md").write_text("my notes")
    letter = tmp_path / "letter.txt"
    letter.write_text("dear editor")
    before = {**_fingerprint(notes), **_fingerprint(letter)}
    attempts = [
        ["train", "--config", str(tiny_config), "--output", str(notes)],
        ["train", "--config", str(tiny_config), "--output", str(letter)],
        ["export", "--onnx", "--model", str(trained_tiny), "--output", str(notes)],
        ["predict", "--model", str(trained_tiny), "--output", str(letter), "seeds/seed_article.txt"],
        ["metrics", "--model", str(trained_tiny), "--data", "tests/data/tiny.jsonl", "--output-dir", str(notes)],
        ["metrics", "--model", str(trained_tiny), "--data", "tests/data/tiny.jsonl", "--output", str(letter)],
    ]
    for args in attempts:
        _refused(runner.invoke(app, args), "already exists", "--force")
    assert {**_fingerprint(notes), **_fingerprint(letter)} == before


def test_force_replaces_only_after_the_new_output_is_complete(tiny_config, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.md").write_text("my notes")
    broken = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--data", str(tmp_path / "missing.jsonl"), "--output", str(notes)]
    )
    assert broken.exit_code == 2 and (notes / "todo.md").read_text() == "my notes"
    forced = runner.invoke(app, ["train", "--config", str(tiny_config), "--output", str(notes), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (notes / "stancetag.json").is_file() and not (notes / "todo.md").exists()
    again = runner.invoke(app, ["train", "--config", str(tiny_config), "--output", str(notes), "--epochs", "1"])
    assert again.exit_code == 0, "an earlier model folder is replaced without --force"


def test_an_output_never_overwrites_or_swallows_its_own_input(trained_tiny, tmp_path, monkeypatch):
    data = tmp_path / "tiny.jsonl"
    data.write_bytes(Path("tests/data/tiny.jsonl").read_bytes())
    articles = _articles(tmp_path / "articles")
    before = {**_fingerprint(data), **_fingerprint(articles)}
    _refused(_predict(trained_tiny, "--output", data, data), "is also an input")
    _refused(
        runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(data), "--output", str(data)]),
        "is also an input",
    )
    _refused(_predict(trained_tiny, "--output", articles / "tags.jsonl", articles), "inside the input folder")
    monkeypatch.chdir(articles)
    _refused(
        runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(data), "--output-dir", "."]),
        "current folder",
    )
    monkeypatch.undo()
    _refused(
        runner.invoke(
            app, ["trends", "--model", str(trained_tiny), "--output-dir", str(tmp_path), str(articles)]
        ),
        "holds the input",
    )
    assert {**_fingerprint(data), **_fingerprint(articles)} == before


def test_resume_keys_on_sentences_not_on_order(trained_tiny, tmp_path):
    rows = [
        {"article": "x", "text": "Tariffs rose. Talks resumed."},
        {"article": "y", "text": "Warships sailed near Taiwan."},
        {"article": "x", "text": "Officials met in Geneva. Both sides spoke."},
    ]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    full = tmp_path / "full.jsonl"
    assert _predict(trained_tiny, "--output", full, source).exit_code == 0
    lines = full.read_text().splitlines()
    assert [json.loads(line)["sentence_index"] for line in lines if json.loads(line)["article"] == "x"] == [0, 1, 2, 3]
    for cut in range(len(lines)):
        out = tmp_path / f"cut{cut}.jsonl"
        (tmp_path / f".{out.name}.partial").write_text("".join(line + "\n" for line in lines[:cut]) + lines[cut][:9])
        result = _predict(trained_tiny, "--output", out, "--resume", source)
        assert result.exit_code == 0, result.output
        assert out.read_text().splitlines() == lines, f"resumed after {cut} records"


def test_resume_refuses_a_partial_written_another_way(trained_tiny, tmp_path):
    articles = _articles(tmp_path / "articles")
    out = tmp_path / "tags.jsonl"
    partial = tmp_path / ".tags.jsonl.partial"
    (tmp_path / ".tags.jsonl.partial.json").write_text(json.dumps({"format": "csv", "level": "sentence"}))
    partial.write_text("article,sentence_index\n")
    _refused(_predict(trained_tiny, "--output", out, "--resume", articles), "--format 'csv'", "this run has 'jsonl'")
    _refused(_predict(trained_tiny, "--output", out, articles), "interrupted run left", "--resume")
    assert partial.read_text() == "article,sentence_index\n"


def test_a_failure_keeps_the_work_done_and_resume_finishes_it(trained_tiny, tmp_path, monkeypatch):
    monkeypatch.setattr("stancetag.model.predictor.CHUNK_SENTENCES", 2)  # stream as a long input would
    rows = [{"article": f"a{i}", "text": TEXTS[i % 2]} for i in range(3)]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"article": "bad", "text": ""}\n')
    out = tmp_path / "tags.jsonl"
    failed = _predict(trained_tiny, "--output", out, source)
    _refused(failed, "rows.jsonl:4", "kept in", "--resume")
    assert not out.exists()
    kept = (tmp_path / ".tags.jsonl.partial").read_text().splitlines()
    assert {json.loads(line)["article"] for line in kept} == {"a0", "a1", "a2"}
    source.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"article": "a3", "text": "Talks resumed."}\n')
    resumed = _predict(trained_tiny, "--output", out, "--resume", source)
    assert resumed.exit_code == 0, resumed.output
    fresh = _predict(trained_tiny, source)
    assert out.read_text() == fresh.stdout
    assert not list(tmp_path.glob(".tags.jsonl*")), "no partial, identity or lock file left after success"


def test_a_second_run_on_the_same_output_is_refused(trained_tiny, tmp_path):
    articles = _articles(tmp_path / "articles")
    out = tmp_path / "tags.jsonl"
    other_run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".tags.jsonl.lock").write_text(f"{other_run.pid}\n")
        _refused(_predict(trained_tiny, "--output", out, articles), f"another stancetag run (pid {other_run.pid})")
    finally:
        other_run.kill()
        other_run.wait()
    assert not out.exists()
    result = _predict(trained_tiny, "--output", out, articles)
    assert result.exit_code == 0, "a lock left by a run that no longer exists is taken over"
    foreign = tmp_path / ".other.jsonl.lock"
    foreign.write_text("my shopping list")
    _refused(_predict(trained_tiny, "--output", tmp_path / "other.jsonl", articles), "not a stancetag lock")
    assert foreign.read_text() == "my shopping list"


def test_links_are_never_written_through(trained_tiny, tmp_path):
    articles = _articles(tmp_path / "articles")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".tags.jsonl.partial").symlink_to(victim)
    _refused(_predict(trained_tiny, "--output", tmp_path / "tags.jsonl", "--resume", articles), "symbolic link")
    sidecar = tmp_path / "mine.jsonl.model.json"
    sidecar.write_text('{"budget": 12}')
    _refused(_predict(trained_tiny, "--output", tmp_path / "mine.jsonl", articles), "mine.jsonl.model.json")
    assert sidecar.read_text() == '{"budget": 12}'
    link = tmp_path / "link.jsonl"
    link.symlink_to(victim)
    _refused(_predict(trained_tiny, "--output", link, articles), "symbolic link")
    assert victim.read_text() == "precious"


def test_path_problems_are_one_line_before_the_work(trained_tiny, tmp_path, monkeypatch):
    articles = _articles(tmp_path / "articles")
    folder = tmp_path / "out"
    folder.mkdir()
    _refused(_predict(trained_tiny, "--output", folder, articles), "is a folder")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _refused(_predict(trained_tiny, "--output", blocker / "tags.jsonl", articles), "is a file, not a folder")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        _refused(_predict(trained_tiny, "--output", locked / "tags.jsonl", articles), "permission denied")

    def disk_full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "tags.jsonl"))

    monkeypatch.setattr("stancetag.resume.os.replace", disk_full)
    result = _predict(trained_tiny, "--output", tmp_path / "tags.jsonl", articles)
    _refused(result, "No space left on device", "disk is full", "complete in")


@pytest.mark.parametrize("command", ["suggest", "audit", "import"])
def test_loop_commands_refuse_a_users_file(trained_tiny, tmp_path, command):
    letter = tmp_path / "letter.txt"
    letter.write_text("dear editor")
    args = {
        "suggest": ["suggest", "--model", str(trained_tiny), "--output", str(letter), "seeds/seed_article.txt"],
        "audit": ["audit", "--quick", "--output", str(letter), "tests/data/tiny.jsonl"],
        "import": ["import", "--output", str(letter), "tests/data/tiny.jsonl"],
    }[command]
    _refused(runner.invoke(app, args), "already exists")
    assert letter.read_text() == "dear editor"


def test_a_full_disk_during_training_is_one_line(tiny_config, tmp_path):
    import resource

    def small_disk():  # every file this process writes is cut at 64 KB, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    command = [sys.executable, "-m", "stancetag.cli", "train", "--config", str(tiny_config), "--output", "m"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, preexec_fn=small_disk)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: writing or reading model weights failed")
    assert not (tmp_path / "m").exists()
