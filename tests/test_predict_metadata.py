"""`predict` keeps every input column, reads Parquet, rolls sentences up to articles, and names
the model that made each record (short id on the record, full fingerprint in OUTPUT.model.json)."""

import csv
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from stancetag.cli import app

runner = CliRunner()

ROWS = [
    {
        "article": "a1",
        "text": "Tariffs rose on steel. Officials met in Beijing.\nWarships sailed near Taiwan.",
        "date": "2021-03-05",
        "outlet": "Harbor Ledger",
        "url": "https://example.org/a1",
        "tags": ["econ", "asia"],
    },
    {"article": "a2", "text": "Talks resumed on chips.", "date": "2022-07-01", "outlet": "Meridian Post"},
]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _records(text):
    return [json.loads(line) for line in text.splitlines()]


def _predict(model, *args):
    return runner.invoke(app, ["predict", "--model", str(model), *map(str, args)])


def test_every_input_column_is_kept_and_the_model_is_named(trained_tiny, tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "tags.jsonl"
    result = _predict(trained_tiny, "--output", out, source)
    assert result.exit_code == 0, result.output
    records = _records(out.read_text())
    assert [r["article"] for r in records] == ["a1", "a1", "a1", "a2"]
    first, last = records[0], records[-1]
    assert (first["date"], first["outlet"], first["url"], first["tags"]) == (
        "2021-03-05",
        "Harbor Ledger",
        "https://example.org/a1",
        ["econ", "asia"],
    )
    assert (last["date"], last["outlet"]) == ("2022-07-01", "Meridian Post") and "url" not in last
    sha = hashlib.sha256((trained_tiny / "model.safetensors").read_bytes()).hexdigest()
    assert {r["model"] for r in records} == {f"{trained_tiny.name}@{sha[:12]}"}

    card = json.loads((tmp_path / "tags.jsonl.model.json").read_text())
    assert card["sha256"] == sha and card["path"] == str(trained_tiny.resolve())
    assert card["model"] == first["model"] and card["level"] == "sentence" and card["inputs"] == [str(source)]
    assert card["thresholds"] == json.loads((trained_tiny / "stancetag.json").read_text())["thresholds"]


def test_csv_output_carries_the_metadata_columns(trained_tiny, tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = _predict(trained_tiny, "--format", "csv", source)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert list(rows[0])[-5:] == ["date", "outlet", "url", "tags", "model"]
    assert rows[0]["tags"] == '["econ", "asia"]' and rows[-1]["url"] == ""
    assert rows[-1]["outlet"] == "Meridian Post"


def test_parquet_input_with_typed_columns(trained_tiny, tmp_path):
    import datetime

    table = pa.table(
        {
            "text": ["Drills near Taiwan. Tariffs rose.", "Talks resumed."],
            "article": ["p1", "p2"],
            "date": pa.array([datetime.date(2020, 1, 15), datetime.date(2024, 5, 23)], type=pa.date32()),
            "words": pa.array([412, 98], type=pa.int64()),
        }
    )
    path = tmp_path / "articles.parquet"
    pq.write_table(table, path)
    result = _predict(trained_tiny, path)
    assert result.exit_code == 0, result.output
    records = _records(result.stdout)
    assert [(r["article"], r["date"], r["words"]) for r in records] == [
        ("p1", "2020-01-15", 412),
        ("p1", "2020-01-15", 412),
        ("p2", "2024-05-23", 98),
    ]


def test_a_damaged_parquet_file_is_one_line(trained_tiny, tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    result = _predict(trained_tiny, path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: not a readable Parquet file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_article_level_records(trained_tiny, tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", ROWS)
    sentences = _records(_predict(trained_tiny, source).stdout)
    result = _predict(trained_tiny, "--level", "article", "--output", tmp_path / "articles.jsonl", source)
    assert result.exit_code == 0, result.output
    assert "wrote 2 articles" in result.stderr
    articles = _records((tmp_path / "articles.jsonl").read_text())
    assert [a["article"] for a in articles] == ["a1", "a2"]
    a1 = articles[0]
    mine = [s for s in sentences if s["article"] == "a1"]
    assert a1["sentences"] == len(mine) == 3
    for topic, share in a1["topic_shares"].items():
        assert share == round(sum(topic in s["topics"] for s in mine) / 3, 4)
    for tone, share in a1["tone_mix"].items():
        assert share == round(sum(s["tone"] == tone for s in mine) / 3, 4)
    assert abs(sum(a1["tone_mix"].values()) - 1) < 1e-3
    assert a1["topics"] == [t for t in a1["topic_shares"] if a1["topic_shares"][t] > 0]
    assert (a1["date"], a1["outlet"], a1["model"]) == ("2021-03-05", "Harbor Ledger", mine[0]["model"])
    assert "text" not in a1 and "sentence_index" not in a1
    assert json.loads((tmp_path / "articles.jsonl.model.json").read_text())["level"] == "article"

    table = _predict(trained_tiny, "--level", "article", "--format", "table", source)
    assert table.exit_code == 0 and "a1" in table.stdout and "tone mix" in table.stdout
    as_csv = _predict(trained_tiny, "--level", "article", "--format", "csv", source)
    header = as_csv.stdout.splitlines()[0]
    assert header.startswith("article,sentences,topics,topic_share_taiwan") and header.endswith(
        "date,outlet,url,tags,model"
    )


def test_article_level_needs_the_rows_of_an_article_together(trained_tiny, tmp_path):
    rows = [{"article": "x", "text": "One."}, {"article": "y", "text": "Two."}, {"article": "x", "text": "Three."}]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "articles.jsonl"
    result = _predict(trained_tiny, "--level", "article", "--output", out, source)
    assert result.exit_code == 2
    assert result.stderr.startswith('error: article "x" comes back after other articles')
    assert not out.exists(), "nothing half-written"
    assert "kept in" in result.stderr and "--resume" in result.stderr, "the articles done are kept for --resume"
    consecutive = _predict(trained_tiny, "--level", "article", _write_jsonl(tmp_path / "ok.jsonl", rows[:1] * 2))
    assert consecutive.exit_code == 0 and len(consecutive.stdout.splitlines()) == 1


def test_a_column_named_like_a_prediction_is_kept_under_another_name(trained_tiny, tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", [{"text": "Talks resumed.", "tone": "cooperative", "topics": []}])
    result = _predict(trained_tiny, source)
    assert result.exit_code == 0, result.output
    (record,) = _records(result.stdout)
    assert record["input_tone"] == "cooperative" and record["input_topics"] == []
    assert record["tone"] in record["tone_scores"]
    assert 'input column "tone" is kept as "input_tone"' in result.stderr


def test_the_sidecar_records_threshold_overrides(trained_tiny, tmp_path):
    out = tmp_path / "tags.csv"
    result = _predict(
        trained_tiny, "--threshold", "trade=0.9", "--format", "csv", "--output", out, "seeds/seed_article.txt"
    )
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "tags.csv.model.json").read_text())
    assert card["thresholds"]["trade"] == 0.9 and card["stored_thresholds"]["trade"] != 0.9
