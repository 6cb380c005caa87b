"""Several processes under torchrun: two CPU processes (gloo) train one model and shard `predict`."""

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.errors import UserError
from stancetag.launch import Launch, launch_from_env
from stancetag.model.distributed import share
from stancetag.model.shards import merge_shards, shard_path

from .conftest import TINY_DATA

runner = CliRunner()


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run --nproc_per_node 2 -m stancetag.cli ARGS` on this machine."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"  # two processes on a shared CPU
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return subprocess.run(
        [*command, "-m", "stancetag.cli", "--quiet", *args], capture_output=True, text=True, env=env, timeout=300
    )


def _headline(meta: dict) -> float:
    m = meta["dev_metrics"]
    return (m["topics"]["macro_f1"] + m["tone"]["macro_f1"]) / 2


@pytest.mark.slow
def test_two_processes_train_one_model_as_good_as_one_process(tiny_config, trained_tiny, tmp_path):
    """trained_tiny is the same config, data and seed in one process: same dev articles, same quality."""
    out = tmp_path / "runs" / "model"
    result = _torchrun("train", "--config", str(tiny_config), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["model"], "one artifact, no staging or checkpoint left"
    assert result.stderr.count("saved ") == 1, "only rank 0 reports"
    weights = load_file(str(out / "model.safetensors"))
    assert not [k for k in weights if k.startswith("module.")]
    assert weights.keys() == load_file(str(trained_tiny / "model.safetensors")).keys()

    multi = json.loads((out / "stancetag.json").read_text())
    single = json.loads((trained_tiny / "stancetag.json").read_text())
    assert multi["data"] == single["data"], "the same training sentences and dev articles"
    assert multi["training"]["history"][-1]["loss"] < multi["training"]["history"][0]["loss"] / 2
    assert _headline(multi) >= _headline(single) - 0.1

    tagged = runner.invoke(app, ["predict", "--model", str(out), "--device", "cpu", "seeds/seed_article.txt"])
    assert tagged.exit_code == 0, tagged.output
    assert len(tagged.stdout.splitlines()) == 29


@pytest.fixture()
def articles(tmp_path):
    """A folder of small articles (one empty, one in a subfolder) and a JSONL whose article `a` has two rows."""
    folder = tmp_path / "articles"
    (folder / "sub").mkdir(parents=True)
    for i in range(7):
        sentences = [f"Article {i} line {k} says tariffs rose near Taiwan." for k in range(i % 3 + 1)]
        (folder / f"art{i}.txt").write_text(" ".join(sentences) + "\n")
    (folder / "empty.txt").write_text("\n")
    (folder / "sub" / "deep.txt").write_text("Warships sailed. Officials met in Beijing, then left.\n")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"text": "First row of a. Talks resumed.", "article": "a"}\n{"text": "A row without an id."}\n'
        '{"text": "Second row of a.", "article": "a"}\n{"text": "Tariffs, again, \\"up\\".", "article": "c"}\n'
    )
    return [str(folder), str(rows)]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_two_processes_predict_shards_and_merge_to_the_single_process_output(trained_tiny, articles, tmp_path, fmt):
    single = tmp_path / f"single.{fmt}"
    args = ["predict", "--model", str(trained_tiny), "--format", fmt, "--device", "cpu"]
    assert runner.invoke(app, [*args, "--output", str(single), *articles]).exit_code == 0

    merged = tmp_path / "out" / f"tags.{fmt}"
    result = _torchrun(*args, "--output", str(merged), *articles)
    assert result.returncode == 0, result.stderr
    assert merged.read_bytes() == single.read_bytes()
    sentences = len(single.read_text().splitlines()) - (fmt == "csv")  # less the CSV header
    assert result.stderr.count(f"wrote {sentences} sentences to {merged}") == 1, "rank 0 reports the merged total"
    shards = sorted(p.name for p in merged.parent.iterdir())
    assert shards == [f"tags.{fmt}", f"tags.{fmt}.model.json", f"tags.{fmt}.shard-0of2", f"tags.{fmt}.shard-1of2"]
    if fmt == "jsonl":
        parts = [shard_path(merged, r, 2).read_text().splitlines() for r in range(2)]
        assert parts[0] and parts[1] and sorted(parts[0] + parts[1]) == sorted(single.read_text().splitlines())
        # every row of article `a` went to one process, so its sentence indices run on as in one process
        a_rows = [json.loads(line) for part in parts for line in part if json.loads(line)["article"] == "a"]
        assert [r["sentence_index"] for r in a_rows] == [0, 1, 2]


@pytest.mark.slow
def test_two_processes_predict_article_records_as_one_process(trained_tiny, articles, tmp_path):
    folder = articles[:1]  # the .txt articles: one row each
    single = tmp_path / "single.jsonl"
    args = ["predict", "--model", str(trained_tiny), "--level", "article", "--device", "cpu"]
    assert runner.invoke(app, [*args, "--output", str(single), *folder]).exit_code == 0
    merged = tmp_path / "out" / "articles.jsonl"
    result = _torchrun(*args, "--output", str(merged), *folder)
    assert result.returncode == 0, result.stderr
    assert merged.read_bytes() == single.read_bytes()
    assert len(single.read_text().splitlines()) == 8  # nine files, one of them empty
    assert json.loads((tmp_path / "out" / "articles.jsonl.model.json").read_text())["level"] == "article"


def test_merge_refuses_a_shard_that_does_not_match(tmp_path):
    out = tmp_path / "tags.jsonl"
    shard_path(out, 0, 2).write_text('{"article": "x", "sentence_index": 0}\n')
    shard_path(out, 1, 2).write_text('{"article": "y", "sentence_index": 0}\n')
    with pytest.raises(UserError, match="expected a sentence of article 'z' but found article 'y'"):
        merge_shards(out, "jsonl", [[(0, "x", 1)], [(1, "z", 1)]])
    assert not out.exists()
    with pytest.raises(UserError, match=r"tags.jsonl.shard-0of3: not found after every process finished"):
        merge_shards(out, "jsonl", [[], [], []])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "2 processes (WORLD_SIZE=2) need --output FILE"),
        (["--output", "x.txt", "--format", "table"], "cannot merge --format table; use --format jsonl or csv"),
        (["--output", "x.jsonl", "-"], "cannot share standard input (-)"),
    ],
)
def test_sharded_predict_explains_what_it_cannot_do(trained_tiny, extra, message, monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["predict", "--model", str(trained_tiny), *extra, str(TINY_DATA)])
    assert result.exit_code == 2
    assert message in result.stderr


def test_launch_environment_and_batch_shares():
    assert launch_from_env({}) == Launch(1, 0, 0)
    assert launch_from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == Launch(4, 3, 1)
    with pytest.raises(UserError, match="RANK=2 of WORLD_SIZE=2"):
        launch_from_env({"WORLD_SIZE": "2", "RANK": "2"})
    batches = list(range(5))
    assert share(batches, Launch()) == batches
    shares = [share(batches, Launch(2, r, r)) for r in range(2)]
    assert shares == [[0, 2, 4], [1, 3, 0]], "same number of steps everywhere: the list wraps around"
    assert [share(batches[:1], Launch(3, r, r)) for r in range(3)] == [[0], [0], [0]]
