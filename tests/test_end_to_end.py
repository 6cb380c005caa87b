"""train -> predict -> metrics through the CLI on a tiny random-init BERT (seconds, no network)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.labeled import load_examples
from stancetag.model.torch_backend import TorchPredictor

from .conftest import TINY_DATA

SEED = "seeds/seed_article.txt"
RECORD_KEYS = {"article", "sentence_index", "text", "topics", "topic_scores", "tone", "tone_scores", "model"}
runner = CliRunner()


def test_train_writes_a_self_describing_artifact(tiny_config, tmp_path):
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--config", str(tiny_config), "--output", str(out), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert {"stancetag.json", "model.safetensors", "config.json", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "stancetag.json").read_text())
    assert meta["labels"] == {
        "topics": ["taiwan", "trade", "military_ties"],
        "tones": ["cooperative", "contentious", "neutral"],
    }
    assert set(meta["thresholds"]) == {"taiwan", "trade", "military_ties"}
    assert meta["config"]["training"]["epochs"] == 3
    assert meta["data"]["train"]["fingerprint"] and meta["data"]["dev"]["articles"]
    assert {"torch", "transformers", "stancetag"} <= set(meta["versions"])
    assert "saved" in result.stderr and "dev topic micro-F1" in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging directory left behind"


def test_predict_tags_each_sentence_of_the_seed_article(trained_tiny):
    result = runner.invoke(app, ["predict", "--model", str(trained_tiny), SEED])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 29
    assert [r["sentence_index"] for r in records] == list(range(29))
    for r in records:
        assert set(r) == RECORD_KEYS
        assert r["article"] == "seed_article"
        assert set(r["topics"]) <= {"taiwan", "trade", "military_ties"}
        assert r["tone"] in r["tone_scores"] and abs(sum(r["tone_scores"].values()) - 1) < 1e-3
        assert r["tone"] == max(r["tone_scores"], key=r["tone_scores"].get)


def test_predict_formats_and_output_file(trained_tiny, tmp_path):
    out = tmp_path / "tags.csv"
    result = runner.invoke(
        app, ["predict", "--model", str(trained_tiny), "--format", "csv", "--output", str(out), SEED]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("article,sentence_index,text,topics,tone,topic_score_taiwan")
    assert len(lines) == 30
    table = runner.invoke(app, ["predict", "--model", str(trained_tiny), "--format", "table", SEED])
    assert table.exit_code == 0 and "sentence" in table.stdout and "== seed_article" in table.stdout


def test_predict_reads_jsonl_csv_and_stdin(trained_tiny, tmp_path):
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"text": "Tariffs rose. Talks resumed.", "article": "a1"}\n{"text": "Drills near Taiwan."}\n')
    csv = tmp_path / "in.csv"
    csv.write_text('text,article\n"Warships sailed, officials said.",b7\n')
    result = runner.invoke(
        app, ["predict", "--model", str(trained_tiny), str(jsonl), str(csv), "-"], input="From stdin."
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["article"], r["sentence_index"]) for r in records] == [
        ("a1", 0),
        ("a1", 1),
        ("in.jsonl:2", 0),
        ("b7", 0),
        ("stdin", 0),
    ]


def test_threshold_override_turns_topics_on(trained_tiny):
    result = runner.invoke(app, ["predict", "--model", str(trained_tiny), "--threshold", "trade=0", SEED])
    assert result.exit_code == 0, result.output
    assert all("trade" in json.loads(line)["topics"] for line in result.stdout.splitlines())


def test_metrics_json_shape(trained_tiny):
    result = runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--format", "json"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["n"] == 60
    assert {"micro_f1", "macro_f1", "per_label"} <= set(m["topics"])
    assert {"precision", "recall", "f1", "support"} == set(m["topics"]["per_label"]["taiwan"])
    assert {"accuracy", "macro_f1", "per_label", "confusion"} <= set(m["tone"])
    assert np.array(m["tone"]["confusion"]["rows_gold_columns_predicted"]).sum() == 60


def test_tiny_model_overfits_its_training_sentences(trained_tiny):
    """Loss falls and labels come out right: the model learns what it is shown."""
    predictor = TorchPredictor.from_directory(trained_tiny, device="cpu")
    meta = json.loads((trained_tiny / "stancetag.json").read_text())
    history = meta["training"]["history"]
    assert history[-1]["loss"] < history[0]["loss"] / 2
    examples = load_examples(TINY_DATA, predictor.meta.config.labels)
    scores = predictor.predict_proba([e.text for e in examples])
    topics = predictor.decide_topics(scores.topic_probabilities)
    tones = scores.tone_probabilities.argmax(axis=1)
    topic_right = np.mean(
        [
            tuple(t for j, t in enumerate(predictor.meta.topics) if topics[i, j]) == e.topics
            for i, e in enumerate(examples)
        ]
    )
    tone_right = np.mean([predictor.meta.tones[tones[i]] == e.tone for i, e in enumerate(examples)])
    assert topic_right >= 0.9 and tone_right >= 0.9


def test_reload_and_batching_give_identical_scores(trained_tiny):
    texts = [e.text for e in load_examples(TINY_DATA, TorchPredictor.from_directory(trained_tiny).meta.config.labels)]
    a = TorchPredictor.from_directory(trained_tiny, device="cpu", precision="fp32", batch_size=16).predict_proba(texts)
    b = TorchPredictor.from_directory(trained_tiny, device="cpu", precision="fp32", batch_size=1).predict_proba(texts)
    np.testing.assert_allclose(a.topic_probabilities, b.topic_probabilities, atol=1e-5)
    np.testing.assert_allclose(a.tone_probabilities, b.tone_probabilities, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11])
def test_same_seed_same_metrics(tiny_config, tmp_path, seed):
    runs, weights = [], []
    for name, run_seed in (("a", seed), ("b", seed), ("other", seed + 1)):
        out = tmp_path / name
        result = runner.invoke(
            app, ["train", "--config", str(tiny_config), "--output", str(out), "--epochs", "3", "--seed", str(run_seed)]
        )
        assert result.exit_code == 0, result.output
        runs.append(json.loads((out / "stancetag.json").read_text())["dev_metrics"])
        weights.append((out / "model.safetensors").read_bytes())
    assert runs[0] == runs[1]
    assert weights[0] == weights[1]  # the same seed gives the same model, byte for byte
    assert weights[2] != weights[0]  # and the seed is what decides it
