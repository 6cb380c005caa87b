"""`stancetag suggest`: the most uncertain sentences first, spread over articles, no near-duplicates,
each with a reason; and the pre-annotation formats of `suggest` and `predict`."""

import json
import re
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.errors import UserError
from stancetag.loop.suggest import SuggestOptions, choose, topic_distance

from .conftest import TINY_DATA

TOPICS = ("taiwan", "trade", "military_ties")
TONES = ("cooperative", "contentious", "neutral")
SEED = "seeds/seed_article.txt"
runner = CliRunner()


def options(**changes):
    values = {"count": 10, "strategy": "uncertainty", "per_article": 3, "max_similarity": 0.8, "seed": 0}
    return SuggestOptions(**(values | changes))


def test_a_topic_at_its_threshold_and_a_tied_tone_come_before_confident_sentences():
    texts = ["Tariffs rose on steel.", "Warships sailed near the island.", "The envoy met Wang.", "Exports fell."]
    topic_p = np.array([[0.02, 0.98, 0.01], [0.9, 0.01, 0.95], [0.01, 0.31, 0.02], [0.01, 0.99, 0.02]])
    tone_p = np.array([[0.05, 0.9, 0.05], [0.02, 0.96, 0.02], [0.9, 0.05, 0.05], [0.1, 0.46, 0.44]])
    thresholds = np.array([0.5, 0.3, 0.5])
    picks = choose(texts, ["a", "b", "c", "d"], topic_p, tone_p, thresholds, options(), TOPICS, TONES)
    assert {p.index for p in picks[:2]} == {2, 3} and len(picks) == 4
    reasons = {p.index: p.reason for p in picks}
    assert reasons[2].startswith("topic trade 0.31 vs threshold 0.30")
    assert reasons[3].startswith("tone contentious 0.46 vs neutral 0.44")
    assert [p.uncertainty for p in picks] == sorted((p.uncertainty for p in picks), reverse=True)


def test_topic_distance_is_measured_against_the_room_on_each_side_of_the_threshold():
    d = topic_distance(np.array([[0.1, 0.6, 0.2]]), np.array([0.2, 0.2, 0.2]))[0]
    assert d == pytest.approx([0.5, 0.5, 0.0])


def test_picks_are_capped_per_article_and_skip_near_duplicates():
    texts = [
        "Tariffs on steel rose again.",
        "The envoy arrived in Beijing on Monday.",
        "Exports of soybeans fell sharply.",
        "A carrier group entered the South China Sea.",
        "Lawmakers criticised the chip rules.",
        "The summit ended without a joint statement.",
    ]
    texts += [
        "Chinese warships sailed through the Taiwan Strait on Monday.",
        "Chinese warships sailed through the Taiwan Strait on Monday, officials said.",
        "Beijing lodged stern representations with Washington.",
    ]
    articles = ["a"] * 6 + ["b", "c", "d"]
    topic_p = np.full((9, 3), 0.5)  # every sentence equally uncertain
    tone_p = np.full((9, 3), 1 / 3)
    picks = choose(texts, articles, topic_p, tone_p, np.full(3, 0.5), options(per_article=2), TOPICS, TONES)
    chosen = [p.index for p in picks]
    assert Counter(articles[i] for i in chosen)["a"] == 2
    assert not {6, 7} <= set(chosen), "a near-duplicate of a picked sentence was picked too"
    assert len(chosen) == 4


def test_random_is_reproducible_with_its_seed_and_says_so():
    texts = [f"Sentence {k} about matter {k * 7}." for k in range(30)]
    rng = np.random.default_rng(1)
    topic_p, tone_p = rng.random((30, 3)), rng.dirichlet(np.ones(3), 30)
    args = (texts, [f"a{k}" for k in range(30)], topic_p, tone_p, np.full(3, 0.5))
    first = choose(*args, options(strategy="random", seed=4), TOPICS, TONES)
    again = choose(*args, options(strategy="random", seed=4), TOPICS, TONES)
    other = choose(*args, options(strategy="random", seed=5), TOPICS, TONES)
    assert [p.index for p in first] == [p.index for p in again] != [p.index for p in other]
    assert all(p.reason.startswith("random pick (seed 4); ") for p in first)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"count": 0}, "--count 0"),
        ({"strategy": "margin"}, "--strategy 'margin': choose one of uncertainty, random"),
        ({"per_article": 0}, "--per-article 0"),
        ({"max_similarity": 1.5}, "--max-similarity 1.5"),
    ],
)
def test_bad_options_are_user_errors(changes, message):
    with pytest.raises(UserError, match=re.escape(message)):
        options(**changes)


def test_suggest_cli_writes_ranked_records_with_reasons(trained_tiny):
    result = runner.invoke(
        app, ["suggest", "--model", str(trained_tiny), "-n", "5", "--per-article", "1", str(TINY_DATA)]
    )
    assert result.exit_code == 0, result.output
    picks = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["rank"] for p in picks] == [1, 2, 3, 4, 5]
    assert len({p["article"] for p in picks}) == 5, "one sentence per article at most"
    assert all(p["strategy"] == "uncertainty" and p["reason"] for p in picks)
    assert {"text", "topics", "topic_scores", "tone", "tone_scores", "sentence_index"} <= set(picks[0])
    assert [p["uncertainty"] for p in picks] == sorted((p["uncertainty"] for p in picks), reverse=True)
    assert "suggested 5 of 60 sentences from 5 article(s)" in result.stderr


def test_suggest_never_offers_a_sentence_that_is_already_labeled(trained_tiny, tmp_path):
    labeled = tmp_path / "labeled.jsonl"
    lines = TINY_DATA.read_text().splitlines()
    labeled.write_text("\n".join(lines[:50]) + "\n")
    result = runner.invoke(
        app, ["suggest", "--model", str(trained_tiny), "-n", "20", "--exclude", str(labeled), str(TINY_DATA)]
    )
    assert result.exit_code == 0, result.output
    offered = {json.loads(line)["text"] for line in result.stdout.splitlines()}
    assert offered and offered <= {json.loads(line)["text"] for line in lines[50:]}
    everything = runner.invoke(
        app, ["suggest", "--model", str(trained_tiny), "--exclude", str(TINY_DATA), str(TINY_DATA)]
    )
    assert everything.exit_code == 2 and everything.stderr.startswith("error: no sentence left to suggest")


def test_suggest_table_and_bad_format(trained_tiny, tmp_path):
    table = runner.invoke(app, ["suggest", "--model", str(trained_tiny), "-n", "3", "--format", "table", SEED])
    assert table.exit_code == 0 and table.stdout.splitlines()[0].split()[:3] == ["rank", "sentence", "article#"]
    out = tmp_path / "s.out"
    bad = runner.invoke(app, ["suggest", "--model", str(trained_tiny), "--format", "xml", "--output", str(out), SEED])
    assert bad.exit_code == 2 and "--format 'xml': choose one of jsonl, table, csv, label-studio" in bad.stderr
    assert not out.exists()


def test_label_studio_tasks_carry_the_model_labels_as_predictions(trained_tiny, tmp_path):
    out = tmp_path / "tasks.json"
    result = runner.invoke(
        app,
        ["suggest", "--model", str(trained_tiny), "-n", "4", "--per-article", "4"]
        + ["--format", "label-studio", "--output", str(out), SEED],
    )
    assert result.exit_code == 0, result.output
    tasks = json.loads(out.read_text())
    assert len(tasks) == 4
    for task in tasks:
        assert task["data"]["article"] == "seed_article" and task["data"]["reason"]
        (prediction,) = task["predictions"]
        assert 0.0 <= prediction["score"] <= 1.0 and prediction["model_version"].startswith("stancetag:")
        by_control = {r["from_name"]: r["value"]["choices"] for r in prediction["result"]}
        assert by_control["tone"] == [max(task["data"]["tone_scores"], key=task["data"]["tone_scores"].get)]
        assert set(by_control.get("topics", [])) <= set(TOPICS)
        assert all(r["to_name"] == "text" and r["type"] == "choices" for r in prediction["result"])


def test_predict_writes_argilla_records_and_prodigy_tasks_for_every_sentence(trained_tiny, tmp_path):
    argilla = runner.invoke(app, ["predict", "--model", str(trained_tiny), "--format", "argilla", SEED])
    assert argilla.exit_code == 0, argilla.output
    records = json.loads(argilla.stdout)
    assert len(records) == 29 and len({r["id"] for r in records}) == 29
    for r in records:
        tone = [s for s in r["suggestions"] if s["question_name"] == "tone"]
        assert len(tone) == 1 and tone[0]["value"] in TONES and 0 <= tone[0]["score"] <= 1
        assert r["metadata"]["article"] == "seed_article" and r["fields"]["text"]
    prodigy = runner.invoke(app, ["predict", "--model", str(trained_tiny), "--format", "prodigy", SEED])
    assert prodigy.exit_code == 0, prodigy.output
    tasks = [json.loads(line) for line in prodigy.stdout.splitlines()]
    assert len(tasks) == 29
    for task in tasks:
        ids = {o["id"] for o in task["options"]}
        assert set(task["accept"]) <= ids and sum(a.startswith("tone:") for a in task["accept"]) == 1
    resumed = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(trained_tiny),
            "--format",
            "prodigy",
            "--resume",
            "--output",
            str(tmp_path / "x"),
            SEED,
        ],
    )
    assert resumed.exit_code == 2 and "--resume needs --output FILE with --format jsonl or csv" in resumed.stderr
