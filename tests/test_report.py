"""The evaluation report: hand-computed metrics, intervals, calibration, comparisons, files, crossval."""

import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.config import load_config
from stancetag.errors import UserError
from stancetag.evaluation import bootstrap, calibration
from stancetag.evaluation.baselines import Outputs, majority, tfidf_logreg, training_data
from stancetag.evaluation.render import report_markdown, terminal_table, write_report
from stancetag.evaluation.report import Gold, MetricsRun, ReportOptions, compare, evaluate_outputs
from stancetag.labeled import Example, fingerprint, load_examples

from .conftest import DATA, TINY_DATA, edit_model

runner = CliRunner()
TOPICS = ("a", "b")
TONES = ("x", "y", "z")
PNGS = ("tone_confusion.png", "precision_recall.png", "reliability.png")


def _examples(topics: list[list[int]], tones: list[int], articles: list[str]) -> list[Example]:
    return [
        Example(
            text=f"sentence {i}",
            topics=tuple(t for j, t in enumerate(TOPICS) if row[j]),
            tone=TONES[tone],
            article=article,
            source="hand",
            line=i + 1,
        )
        for i, (row, tone, article) in enumerate(zip(topics, tones, articles, strict=True))
    ]


def _outputs(topic_p: list[list[float]], tone_p: list[list[float]], threshold: float = 0.5) -> Outputs:
    topic_p = np.array(topic_p, dtype=float)
    return Outputs(topic_p, np.array(tone_p, dtype=float), topic_p >= threshold)


def _evaluate(examples, outputs, resamples=200, seed=0, errors=20, name="hand"):
    gold = Gold.from_examples(examples, TOPICS, TONES)
    weights = bootstrap.resample_weights(len(gold.articles), resamples, seed)
    thresholds = dict.fromkeys(TOPICS, 0.5)
    return evaluate_outputs(
        name, gold, outputs, TOPICS, TONES, thresholds, weights=weights, seed=seed, errors=errors
    ), weights


# Four sentences in two articles. Topic a: TP 2, FP 1, FN 0 -> F1 4/5; topic b: TP 1, FP 0, FN 1 -> 2/3;
# micro: TP 3, FP 1, FN 1 -> 6/8. Tone gold x y z x, predicted x y y z: accuracy 1/2; F1 x 2/3, y 2/3, z 0.
HAND = _examples([[1, 0], [0, 1], [1, 1], [0, 0]], [0, 1, 2, 0], ["p", "p", "q", "q"])
HAND_OUT = _outputs(
    [[0.9, 0.1], [0.8, 0.7], [0.6, 0.2], [0.3, 0.4]],
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.3, 0.1, 0.6]],
)


def test_hand_computed_scores_and_confusion():
    evaluation, _ = _evaluate(HAND, HAND_OUT)
    m = evaluation.metrics
    assert m["topics"]["per_label"]["a"]["f1"] == pytest.approx(0.8)
    assert m["topics"]["per_label"]["b"]["f1"] == pytest.approx(2 / 3)
    assert m["topics"]["micro_f1"] == pytest.approx(0.75)
    assert m["topics"]["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert m["tone"]["accuracy"] == pytest.approx(0.5)
    assert m["tone"]["macro_f1"] == pytest.approx(4 / 9)
    assert m["tone"]["confusion"]["rows_gold_columns_predicted"] == [[1, 0, 1], [0, 1, 0], [0, 1, 0]]
    # The bootstrap's own count arithmetic reproduces scikit-learn's point estimates exactly.
    intervals = m["intervals"]["metrics"]
    assert intervals["topic_micro_f1"]["value"] == pytest.approx(m["topics"]["micro_f1"])
    assert intervals["topic_macro_f1"]["value"] == pytest.approx(m["topics"]["macro_f1"])
    assert intervals["tone_accuracy"]["value"] == pytest.approx(m["tone"]["accuracy"])
    assert intervals["tone_macro_f1"]["value"] == pytest.approx(m["tone"]["macro_f1"])
    assert all(0 <= row["low"] <= row["high"] <= 1 for row in intervals.values())


def test_all_correct_has_zero_width_intervals():
    perfect = _outputs(
        [[0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.1, 0.1]],
        [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]],
    )
    evaluation, _ = _evaluate(HAND, perfect)
    for row in evaluation.metrics["intervals"]["metrics"].values():
        assert row == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert evaluation.metrics["errors"] == {"sentences_with_mistakes": 0, "most_confident": []}


def test_interval_spans_what_article_resampling_can_reach():
    """One right and one wrong article: a resample holds both wrong, both right, or one of each."""
    examples = _examples([[0, 0], [0, 0]], [0, 0], ["right", "wrong"])
    outputs = _outputs([[0.1, 0.1], [0.1, 0.1]], [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    evaluation, weights = _evaluate(examples, outputs, resamples=1000)
    assert evaluation.metrics["intervals"]["metrics"]["tone_accuracy"] == {"value": 0.5, "low": 0.0, "high": 1.0}
    assert weights.shape == (1000, 2) and (weights.sum(axis=1) == 2).all()


def test_expected_calibration_error_by_hand():
    # Bin 0.9: confidence 0.9, one of two right -> |0.5 - 0.9| * 2/4; bin 0.2: |0 - 0.2| * 2/4.
    result = calibration.reliability(np.array([0.9, 0.9, 0.2, 0.2]), np.array([1, 0, 0, 0]))
    assert result["ece"] == pytest.approx(0.3)
    assert [b["count"] for b in result["bins"]] == [0, 0, 2, 0, 0, 0, 0, 0, 0, 2]
    assert calibration.reliability(np.full(4, 0.75), np.array([1, 1, 1, 0]))["ece"] == pytest.approx(0.0)
    # Tone confidence is the highest probability: 0.6 (right) and 0.7 (wrong) -> (0.4 + 0.7) / 2.
    tone = calibration.tone_calibration(np.array([0, 0]), np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]))
    assert tone["ece"] == pytest.approx(0.55)
    assert calibration.reliability(np.array([1.0]), np.array([1]))["bins"][-1]["count"] == 1


def test_threshold_sweep_and_operating_points():
    examples = _examples([[1, 0], [1, 0], [0, 0], [0, 0]], [0, 0, 0, 0], ["p", "q", "r", "s"])
    outputs = _outputs([[0.9, 0.1], [0.6, 0.1], [0.3, 0.1], [0.1, 0.1]], [[1.0, 0.0, 0.0]] * 4)
    evaluation, _ = _evaluate(examples, outputs)
    a = evaluation.metrics["thresholds"]["per_label"]["a"]
    assert (a["threshold"], a["precision"], a["recall"], a["f1"]) == (0.5, 1.0, 1.0, 1.0)
    at_02 = next(p for p in a["sweep"] if p["threshold"] == 0.2)
    assert at_02["precision"] == pytest.approx(2 / 3) and at_02["recall"] == 1.0
    points = a["operating_points"]
    assert points["best_f1"]["threshold"] == 0.5  # F1 is 1 from 0.325 to 0.6; ties go to 0.5
    assert points["high_precision"]["threshold"] == 0.325
    assert points["high_recall"]["threshold"] == 0.6


def test_most_confident_mistakes_and_article_level():
    evaluation, _ = _evaluate(HAND, HAND_OUT, errors=2)
    errors = evaluation.metrics["errors"]
    # Wrong: s1 topic a on at 0.8; s2 topic b off at 1-0.2=0.8, tone y at 0.5; s3 tone z at 0.6.
    assert errors["sentences_with_mistakes"] == 3
    assert [(e["text"], e["confidence"], e["mistake"]) for e in errors["most_confident"]] == [
        ("sentence 1", 0.8, "topics"),
        ("sentence 2", 0.8, "topics and tone"),
    ]
    articles = evaluation.metrics["articles"]
    assert [(a["article"], a["gold_topics"], a["predicted_topics"]) for a in articles["per_article"]] == [
        ("p", ["a", "b"], ["a", "b"]),
        ("q", ["a", "b"], ["a"]),
    ]
    assert articles["per_article"][1]["predicted_tones"] == {"x": 0, "y": 1, "z": 1}
    assert articles["topic_micro_f1"] == pytest.approx(6 / 7)  # TP 3, FP 0, FN 1


def test_comparison_flags_a_planted_difference_and_not_a_zero_one():
    rng = np.random.default_rng(1)
    n = 200
    tones = rng.integers(0, 3, n)
    examples = _examples([[0, 0]] * n, tones.tolist(), [f"art{i // 5}" for i in range(n)])
    right = np.eye(3)[tones] * 0.8 + 0.1
    wrong_tones = np.where(rng.random(n) < 0.6, (tones + 1) % 3, tones)
    wrong = np.eye(3)[wrong_tones] * 0.8 + 0.1
    topic_p = [[0.1, 0.1]] * n
    a, weights = _evaluate(examples, _outputs(topic_p, wrong), resamples=1000, name="A")
    b, _ = _evaluate(examples, _outputs(topic_p, right), resamples=1000, name="B")
    planted = compare(a, b, weights, seed=0)["metrics"]["tone_accuracy"]
    assert planted["difference"] > 0.4 and planted["significant"] and planted["low"] > 0
    assert planted["sign_flip_share"] < 0.01
    same = compare(a, a, weights, seed=0)["metrics"]
    for row in same.values():
        assert row["difference"] == 0 and not row["significant"]
        assert row["sign_flip_share"] == 1.0 and row["low"] == row["high"] == 0


def test_report_options_are_checked():
    with pytest.raises(UserError, match="--errors -1"):
        ReportOptions(errors=-1, resamples=10)
    with pytest.raises(UserError, match="--bootstrap 0"):
        ReportOptions(errors=1, resamples=0)


def test_report_folder_files_decode(tmp_path):
    evaluation, _ = _evaluate(HAND, HAND_OUT)
    run = MetricsRun(tmp_path / "hand.jsonl", [evaluation], None)
    out = tmp_path / "report"
    written = write_report(run, out)
    assert set(written) == {"metrics.json", "report.md", "errors.csv", *PNGS}
    for name in written:
        assert (out / name).stat().st_size > 0
    for name in PNGS:
        with Image.open(out / name) as image:
            image.verify()
    markdown = (out / "report.md").read_text()
    assert all(f"]({name})" in markdown for name in PNGS)
    assert "| topic micro F1 | 0.750 [" in markdown
    rows = list(csv.DictReader((out / "errors.csv").open()))
    assert rows[0]["text"] == "sentence 1" and rows[0]["topic_score_a"] == "0.8"
    assert json.loads((out / "metrics.json").read_text())["topics"]["micro_f1"] == pytest.approx(0.75)
    assert "headline with 95% intervals" in terminal_table(run)
    write_report(run, out)  # an earlier report is replaced
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging directory left behind"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds files that are not an earlier report folder"):
        write_report(run, tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def _meta_for(train_path, recorded_fingerprint):
    from stancetag.model.meta import ArtifactMeta

    config = load_config(DATA / "tiny.yaml")
    data = {"train": {"path": str(train_path), "fingerprint": recorded_fingerprint}}
    return ArtifactMeta(config=config, thresholds={}, base_model="tiny", data=data), config


def test_baselines_find_check_or_explain_their_training_data(tmp_path):
    meta, config = _meta_for(TINY_DATA, fingerprint(load_examples(TINY_DATA, load_config(DATA / "tiny.yaml").labels)))
    found = training_data(meta)
    assert found.available and "model's training split" in found.note
    missing, _ = _meta_for(tmp_path / "gone.jsonl", "abc")
    assert (
        training_data(missing).note
        == f"unavailable: training data {tmp_path / 'gone.jsonl'} not found; pass --train PATH"
    )
    changed, _ = _meta_for(TINY_DATA, "0000000000000000")
    assert "changed since the model was trained" in training_data(changed).note
    assert training_data(changed, TINY_DATA).available  # --train overrides the fingerprint check

    examples = found.examples
    labels = config.labels
    texts = [e.text for e in examples]
    gold = Gold.from_examples(examples, labels.topics, labels.tones)
    floor = majority(examples, len(texts), labels.topics, labels.tones)
    assert not floor.topic_predictions.any()
    assert (floor.tone_predictions == np.bincount(gold.tones).argmax()).all()
    tfidf = tfidf_logreg(examples, texts, labels.topics, labels.tones)
    assert np.mean(tfidf.tone_predictions == gold.tones) > 0.9  # it can fit its own training sentences


# ---- through the CLI, on the tiny trained model ----


def test_metrics_cli_writes_a_report_with_baselines(trained_tiny, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--format", "json",
         "--output-dir", str(out), "--errors", "3", "--bootstrap", "200"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    assert m["n"] == 60 and {"micro_f1", "macro_f1", "per_label"} <= set(m["topics"])
    assert {"intervals", "calibration", "baselines", "thresholds", "articles", "errors"} <= set(m)
    assert m["intervals"]["resamples"] == 200 and m["intervals"]["unit"] == "article"
    assert m["baselines"]["tfidf_logreg"]["available"] and m["baselines"]["majority"]["available"]
    assert len(m["errors"]["most_confident"]) <= 3
    assert {"metrics.json", "report.md", "errors.csv", *PNGS} <= {p.name for p in out.iterdir()}
    for name in PNGS:
        with Image.open(out / name) as image:
            assert image.size[0] > 100
    assert json.loads((out / "metrics.json").read_text())["n"] == 60


def test_metrics_cli_says_when_baselines_are_unavailable(trained_tiny, tmp_path):
    gone = tmp_path / "gone.jsonl"
    result = runner.invoke(
        app,
        ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--train", str(gone), "--bootstrap", "50"],
    )
    assert result.exit_code == 0, result.output
    assert f"unavailable: training data {gone} not found" in result.stdout
    assert "topic micro F1" in result.stdout and "unavailable" in result.stdout.split("topic micro F1")[1]


def test_metrics_cli_compares_two_models(trained_tiny, tmp_path):
    out = tmp_path / "compare"
    result = runner.invoke(
        app,
        ["metrics", "--model", str(trained_tiny), "--model", str(trained_tiny), "--data", str(TINY_DATA),
         "--bootstrap", "100", "--output-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "B - A" in result.stdout and "+0.000" in result.stdout
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["models"]) == 2
    assert not any(row["significant"] for row in report["comparison"]["metrics"].values())
    assert (out / "a" / "reliability.png").is_file() and (out / "b" / "errors.csv").is_file()
    assert "](a/tone_confusion.png)" in (out / "report.md").read_text()


def test_metrics_cli_refuses_models_with_different_labels(trained_tiny, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(trained_tiny, other)
    renamed = ["taiwan", "trade", "navy"]
    edit_model(other, topics=renamed, thresholds=dict.fromkeys(renamed, 0.5))
    result = runner.invoke(
        app, ["metrics", "--model", str(trained_tiny), "--model", str(other), "--data", str(TINY_DATA)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {other}: its labels") and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_crossval_on_the_tiny_corpus(tiny_config):
    result = runner.invoke(
        app,
        ["crossval", str(TINY_DATA), "--config", str(tiny_config), "--folds", "2", "--epochs", "2", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [f["fold"] for f in report["folds"]] == [1, 2]
    assert sum(f["sentences"] for f in report["folds"]) == 60
    assert set(report["summary"]) == set(bootstrap.HEADLINE)
    for row in report["summary"].values():
        assert 0 <= row["mean"] <= 1 and row["std"] >= 0
    # every sentence is scored exactly once, by a model that never saw its article
    assert all(f["sentences"] + f["train_sentences"] == 60 for f in report["folds"])
    articles = {e.article for e in load_examples(TINY_DATA, load_config(DATA / "tiny.yaml").labels)}
    assert sum(f["articles"] for f in report["folds"]) == len(articles)
    for name, row in report["summary"].items():
        values = [f[name] for f in report["folds"]]
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values, ddof=1))


def test_crossval_needs_enough_articles(tiny_config):
    result = runner.invoke(app, ["crossval", str(TINY_DATA), "--config", str(tiny_config), "--folds", "8"])
    assert result.exit_code == 2
    assert "8 article(s) cannot fill 8 folds" in result.stderr


def test_report_markdown_without_baselines_still_renders():
    evaluation, _ = _evaluate(HAND, HAND_OUT)
    text = report_markdown(MetricsRun(TINY_DATA, [evaluation], None))
    assert text.startswith("# stancetag evaluation: hand on") and "## Most confident mistakes" in text
