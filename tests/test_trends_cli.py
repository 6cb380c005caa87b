"""`stancetag trends` through the CLI on the tiny model: files, raw shares that match the tags,
the model and thresholds traced through the sidecar, and one-line errors that leave nothing behind."""

import csv
import io
import json
import shutil

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import TINY_DATA

runner = CliRunner()
OUTLETS = ("Harbor Ledger", "Meridian Post")
LABELS = 3 + 3 + 9


@pytest.fixture()
def dated(tmp_path):
    """The tiny corpus's sentences as 20 articles of 3 sentences, dated over three years, two outlets."""
    rows = [json.loads(line) for line in TINY_DATA.read_text().splitlines()]
    articles = []
    for k in range(0, len(rows), 3):
        n = k // 3
        articles.append(
            {
                "article": f"t{n}",
                "text": "\n".join(r["text"] for r in rows[k : k + 3]),
                "date": f"{2019 + n % 3}-0{1 + n % 9}-15",
                "outlet": OUTLETS[n % 2],
            }
        )
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in articles))
    return path


def _predict(model, source, out, *extra):
    result = runner.invoke(app, ["predict", "--model", str(model), "--output", str(out), *extra, str(source)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def _trends(*args):
    return runner.invoke(app, ["trends", "--bootstrap", "200", *map(str, args)])


def _failed_cleanly(result, output_dir, *fragments):
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith("error: ") and len(line.splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in line, line
    assert "Traceback" not in result.output
    assert not output_dir.exists() and not list(output_dir.parent.glob(f".{output_dir.name}*")), "nothing written"


def test_trends_from_predictions_writes_raw_and_corrected_side_by_side(trained_tiny, dated, tmp_path):
    records = _predict(trained_tiny, dated, tmp_path / "preds.jsonl")
    out = tmp_path / "trends"
    # no --model: the predictions' sidecar names the model that made them
    result = _trends(tmp_path / "preds.jsonl", "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["trends.csv", "trends.json", "trends.parquet", "trends.png"]
    assert (out / "trends.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "trends.csv").open()))
    assert [r["period"] for r in rows[::LABELS]] == ["2019", "2020", "2021"]
    assert len(rows) == 3 * LABELS
    for row in rows:
        year = [r for r in records if r["date"].startswith(row["period"])]
        topic, tone = row["topic"] or None, row["tone"] or None
        tagged = [(topic is None or topic in r["topics"]) and (tone is None or r["tone"] == tone) for r in year]
        assert float(row["raw_share"]) == pytest.approx(sum(tagged) / len(year), abs=1e-4)
        assert int(row["sentences"]) == len(year) and int(row["articles"]) == len({r["article"] for r in year})
        assert float(row["raw_low"]) <= float(row["raw_share"]) <= float(row["raw_high"])
        low, share, high = (float(row[k]) for k in ("corrected_low", "corrected_share", "corrected_high"))
        assert 0 <= low <= share <= high <= 1
    table = pq.read_table(out / "trends.parquet").to_pylist()
    assert [r["label"] for r in table] == [r["label"] for r in rows]
    assert table[0]["raw_share"] == float(rows[0]["raw_share"])
    summary = json.loads((out / "trends.json").read_text())
    assert summary["model"] == records[0]["model"]
    assert summary["calibration"]["origin"] == "the model's dev split"
    assert summary["calibration"]["path"] == str(TINY_DATA)
    assert set(summary["calibration"]["labels"]) == {r["label"] for r in rows[:LABELS]}
    assert "taiwan" in result.stdout and "corrected" in result.stdout and "wrote" in result.stderr


def test_straight_from_articles_equals_from_predictions(trained_tiny, dated, tmp_path):
    _predict(trained_tiny, dated, tmp_path / "preds.jsonl")
    from_predictions = _trends(tmp_path / "preds.jsonl", "--format", "csv", "--by", "outlet")
    from_articles = _trends("--model", trained_tiny, dated, "--format", "csv", "--by", "outlet")
    assert from_predictions.exit_code == 0 and from_articles.exit_code == 0, from_articles.output
    assert from_articles.stdout == from_predictions.stdout
    rows = list(csv.DictReader(io.StringIO(from_articles.stdout)))
    assert {r["outlet"] for r in rows} == set(OUTLETS)


def test_share_of_articles_per_outlet(trained_tiny, dated, tmp_path):
    records = _predict(trained_tiny, dated, tmp_path / "preds.jsonl")
    result = _trends(
        tmp_path / "preds.jsonl", "--format", "csv", "--by", "outlet", "--unit", "article", "--period", "none"
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 * LABELS and {r["period"] for r in rows} == {"all"}
    for row in (r for r in rows if r["label"] == "trade"):
        mine = [r for r in records if r["outlet"] == row["outlet"]]
        articles = {r["article"] for r in mine}
        with_trade = {r["article"] for r in mine if "trade" in r["topics"]}
        assert int(row["articles"]) == len(articles)
        assert float(row["raw_share"]) == pytest.approx(len(with_trade) / len(articles), abs=1e-4)


def test_predictions_made_with_other_thresholds(trained_tiny, dated, tmp_path):
    preds = tmp_path / "preds.jsonl"
    _predict(trained_tiny, dated, preds, "--threshold", "trade=0.05")
    result = _trends(preds, "--output-dir", tmp_path / "out")
    assert result.exit_code == 0, result.output  # the sidecar says which thresholds made them
    assert json.loads((tmp_path / "out" / "trends.json").read_text())["thresholds"]["trade"] == 0.05
    (tmp_path / "preds.jsonl.model.json").unlink()
    out = tmp_path / "again"
    result = _trends("--model", trained_tiny, preds, "--output-dir", out)
    _failed_cleanly(result, out, "preds.jsonl:", "give the same --threshold to trends")
    assert _trends("--model", trained_tiny, preds, "--threshold", "trade=0.05").exit_code == 0


def test_predictions_of_another_model_are_refused(trained_tiny, dated, tmp_path):
    preds = tmp_path / "preds.jsonl"
    records = _predict(trained_tiny, dated, preds)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({**r, "model": "other@0123456789ab"}) + "\n" for r in records))
    out = tmp_path / "out"
    _failed_cleanly(
        _trends("--model", trained_tiny, other, "--output-dir", out), out, "other.jsonl:1: made by model other@"
    )
    copy = tmp_path / "copy"
    shutil.copytree(trained_tiny, copy)
    (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes())  # same weights: accepted
    assert _trends("--model", copy, preds, "--format", "csv").exit_code == 0


@pytest.mark.parametrize(
    ("row", "fragments"),
    [
        ({"date": "March 5"}, ["articles.jsonl:2:", "\"date\" is 'March 5', not a date like 2021-03-05"]),
        ({"date": None}, ["articles.jsonl:2:", 'no "date"', "--period none"]),
    ],
)
def test_bad_dates_are_located(trained_tiny, dated, tmp_path, row, fragments):
    lines = dated.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), **row})
    dated.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    _failed_cleanly(_trends("--model", trained_tiny, dated, "--output-dir", out), out, *fragments)
    assert _trends("--model", trained_tiny, dated, "--period", "none").exit_code == 0


def test_wrong_inputs_and_settings(trained_tiny, dated, tmp_path):
    out = tmp_path / "out"
    articles = tmp_path / "articles-level.jsonl"
    _predict(trained_tiny, dated, articles, "--level", "article")
    cases = [
        (["--period", "decade", dated], ["--period 'decade': choose one of day, week, month, quarter, year, none"]),
        (["--unit", "word", dated], ["--unit 'word'"]),
        (["--method", "median", dated], ["--method 'median'"]),
        (["--bootstrap", "0", dated], ["--bootstrap 0"]),
        ([articles], ["articles-level.jsonl:1:", "run predict without --level article"]),
        ([tmp_path / "missing.jsonl"], ["missing.jsonl: no such input file"]),
    ]
    for args, fragments in cases:
        _failed_cleanly(_trends("--model", trained_tiny, *args, "--output-dir", out), out, *fragments)


def test_without_the_dev_split_it_asks_for_calibration_data(trained_tiny, dated, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained_tiny, copy)
    meta = json.loads((copy / "stancetag.json").read_text())
    meta["data"]["dev"]["held_out_from"] = str(tmp_path / "gone.jsonl")
    (copy / "stancetag.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    _failed_cleanly(
        _trends("--model", copy, dated, "--output-dir", out),
        out,
        "gone.jsonl: the model's dev split",
        "--calibration-data",
    )
    assert _trends("--model", copy, dated, "--calibration-data", TINY_DATA, "--format", "csv").exit_code == 0
    # the tiny model was trained on most of tiny.jsonl: calibrating on it is flagged, not silently trusted
    result = _trends("--model", trained_tiny, dated, "--calibration-data", TINY_DATA, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "are in the model's training data" in result.stderr
