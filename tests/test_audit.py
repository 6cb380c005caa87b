"""`stancetag audit`: planted label errors come out on top, with the labels they should have had."""

import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.labeled import Example
from stancetag.loop.audit import find_issues

from .conftest import DATA

TOPICS = ("taiwan", "trade", "military_ties")
TONES = ("cooperative", "contentious", "neutral")
runner = CliRunner()

SUBJECTS = ["Officials", "The ministry", "Diplomats", "Lawmakers", "The envoy", "Analysts"]
TOPIC_WORDS = {(): "the weather", ("taiwan",): "Taiwan", ("trade",): "tariffs", ("military_ties",): "warships"}
TOPIC_WORDS[("taiwan", "military_ties")] = "warships near Taiwan"
TONE_WORDS = {
    "cooperative": "agreed to cooperate warmly on",
    "contentious": "sharply condemned",
    "neutral": "published a schedule mentioning",
}
# (line, wrong topics, wrong tone) planted in the file; their true labels are what the template says
PLANTED = {7: ((), None), 40: (None, "cooperative"), 82: ((), None), 101: (None, "cooperative")}


def _corpus(tmp_path):
    """144 template sentences in 24 articles; the labels of the PLANTED lines are wrong."""
    combos = list(itertools.product(TOPIC_WORDS.items(), TONE_WORDS.items()))
    rows, truth = [], {}
    for line in range(1, 145):
        (topics, topic_phrase), (tone, tone_phrase) = combos[line % len(combos)]
        text = f"{SUBJECTS[line % 6]} {tone_phrase} {topic_phrase} in statement {line}."
        truth[line] = (list(topics), tone)
        given_topics, given_tone = list(topics), tone
        if line in PLANTED:
            wrong_topics, wrong_tone = PLANTED[line]
            given_topics = list(wrong_topics) if wrong_topics is not None else given_topics
            given_tone = wrong_tone or given_tone
            assert (given_topics, given_tone) != truth[line]
        rows.append({"text": text, "topics": given_topics, "tone": given_tone, "article": f"a{(line - 1) // 6}"})
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, truth


def test_find_issues_flags_flipped_labels_and_suggests_the_true_ones():
    rng = np.random.default_rng(0)
    n = 150
    true_topics = rng.random((n, 3)) < 0.3
    true_tones = rng.integers(0, 3, n)
    topic_p = np.clip(np.where(true_topics, 0.9, 0.08) + rng.normal(0, 0.03, (n, 3)), 0.01, 0.99)
    tone_p = np.full((n, 3), 0.05)
    tone_p[np.arange(n), true_tones] = 0.9
    given_topics, given_tones = true_topics.copy(), true_tones.copy()
    for i in range(0, 30, 3):  # ten topic flips
        given_topics[i, i % 3] = ~given_topics[i, i % 3]
    for i in range(1, 31, 3):  # ten tone changes
        given_tones[i] = (given_tones[i] + 1) % 3
    examples = [
        Example(
            f"s{i}", tuple(t for j, t in enumerate(TOPICS) if given_topics[i, j]), TONES[given_tones[i]], "a", "x", i
        )
        for i in range(n)
    ]
    issues = find_issues(examples, topic_p, tone_p, TOPICS, TONES)
    flagged = {i["line"]: i for i in issues}
    topic_flips, tone_flips = set(range(0, 30, 3)), set(range(1, 31, 3))
    # confident learning estimates how many labels are wrong per class, so it may miss a few; it finds most,
    # and flags almost nothing else
    assert len((topic_flips | tone_flips) & set(flagged)) >= 16
    assert len(set(flagged) - topic_flips - tone_flips) <= 2
    for i in topic_flips & set(flagged):
        assert flagged[i]["suggested_topics"] == [t for j, t in enumerate(TOPICS) if true_topics[i, j]]
        assert "topics" in flagged[i]["flagged"]
    for i in tone_flips & set(flagged):
        assert flagged[i]["suggested_tone"] == TONES[true_tones[i]] and "tone" in flagged[i]["flagged"]
    assert [i["rank"] for i in issues] == list(range(1, len(issues) + 1))
    assert [i["label_quality"] for i in issues] == sorted(i["label_quality"] for i in issues)


def test_quick_audit_ranks_planted_errors_first_with_their_true_labels(tmp_path):
    data, truth = _corpus(tmp_path)
    out = tmp_path / "audit.json"
    args = ["audit", "--config", str(DATA / "tiny.yaml"), "--quick", "--folds", "4", "--format", "json"]
    result = runner.invoke(app, [*args, "--output", str(out), str(data)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["counts"]["sentences"] == 144 and report["folds"] == 4
    top = report["issues"][: len(PLANTED)]
    assert {i["line"] for i in top} == set(PLANTED)
    for issue in top:
        assert (issue["suggested_topics"], issue["suggested_tone"]) == truth[issue["line"]]
        assert (issue["given_topics"], issue["given_tone"]) != truth[issue["line"]]
    assert "audit: " in result.stderr and "flagged" in result.stderr


def test_audit_review_sheet_and_table(tmp_path):
    data, _ = _corpus(tmp_path)
    args = ["audit", "--config", str(DATA / "tiny.yaml"), "--quick", "--folds", "4", "--top", "3"]
    sheet = runner.invoke(app, [*args, "--format", "markdown", str(data)])
    assert sheet.exit_code == 0, sheet.output
    lines = sheet.stdout.splitlines()
    assert lines[2] == "| rank | line | article | sentence | given | suggested | quality | verdict |"
    assert len(lines) == 4 + 3
    table = runner.invoke(app, [*args, str(data)])
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == 2 + 3


def test_audit_errors_are_one_line(tmp_path):
    data, _ = _corpus(tmp_path)
    out = tmp_path / "audit.md"
    result = runner.invoke(
        app, ["audit", "--config", str(DATA / "tiny.yaml"), "--quick", "--folds", "30", "--output", str(out), str(data)]
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "24 article(s) cannot fill 30 folds" in result.stderr and not out.exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Tariffs rose.", "topics": ["trade"], "tone": "angry", "article": "a"}\n')
    result = runner.invoke(app, ["audit", "--config", str(DATA / "tiny.yaml"), "--quick", str(bad)])
    assert result.exit_code == 2 and 'bad.jsonl:1: unknown tone "angry"' in result.stderr


@pytest.mark.slow
def test_audit_with_the_network_trains_one_model_per_fold(tiny_config, tmp_path):
    data, _ = _corpus(tmp_path)
    result = runner.invoke(
        app,
        ["audit", "--config", str(tiny_config), "--folds", "2", "--epochs", "2", "--format", "json", str(data)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["method"] == "the stancetag model trained per fold, out of fold" and report["folds"] == 2
    assert report["counts"]["sentences"] == 144
    assert all(set(i["tone_probabilities"]) == set(TONES) for i in report["issues"])
