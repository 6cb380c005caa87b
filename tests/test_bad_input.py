"""Bad input: one line naming file, line and fix; exit code 2; no traceback; nothing half-written."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from stancetag.cli import app

from .conftest import TINY_DATA

runner = CliRunner()
GOOD = '{"text": "Tariffs rose.", "topics": ["trade"], "tone": "contentious", "article": "a"}\n'


def _train(tiny_config, data, tmp_path, *extra):
    out = tmp_path / "model"
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--data", str(data), "--output", str(out), "--epochs", "1", *extra]
    )
    return result, out


def _assert_clean_failure(result, out, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")], "staging left behind"


JSONL_CASES = [
    ("broken JSON", GOOD + '{"text": "x", "topics": [\n', ":2:", "not valid JSON"),
    ("not an object", GOOD + '["a list"]\n', ":2:", "expected a JSON object"),
    ("missing text", GOOD + '{"topics": [], "tone": "neutral"}\n', ":2:", 'missing "text"'),
    ("empty text", GOOD + '{"text": "  ", "topics": [], "tone": "neutral"}\n', ":2:", '"text" is empty'),
    ("topics not a list", GOOD + '{"text": "b", "topics": "trade", "tone": "neutral"}\n', ":2:", "must be a list"),
    ("missing tone", GOOD + '{"text": "b", "topics": []}\n', ":2:", 'missing "tone"'),
    (
        "misspelled topic",
        GOOD + '{"text": "b", "topics": ["militry_ties"], "tone": "neutral"}\n',
        ":2:",
        'unknown topic "militry_ties" — did you mean "military_ties"?',
    ),
    (
        "conflicting duplicate",
        GOOD + '{"text": "Tariffs rose.", "topics": [], "tone": "neutral"}\n',
        ":2:",
        "different labels on lines 1 and 2",
    ),
]


@pytest.mark.parametrize("name,content,where,message", JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_bad_jsonl_rows(tiny_config, tmp_path, name, content, where, message):
    data = tmp_path / "bad.jsonl"
    data.write_text(content, encoding="utf-8")
    result, out = _train(tiny_config, data, tmp_path)
    _assert_clean_failure(result, out, f"bad.jsonl{where}", message)


def test_missing_empty_and_directory_inputs(tiny_config, tmp_path):
    result, out = _train(tiny_config, tmp_path / "nope.jsonl", tmp_path)
    _assert_clean_failure(result, out, "nope.jsonl", "no such data file")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result, out = _train(tiny_config, empty, tmp_path)
    _assert_clean_failure(result, out, "empty.jsonl", "is empty")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    result, out = _train(tiny_config, folder, tmp_path)
    _assert_clean_failure(result, out, "folder.jsonl", "is a directory")


def test_csv_missing_columns_ragged_rows_and_bad_bytes(tiny_config, tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("text,topics\nA,trade\n")
    result, out = _train(tiny_config, missing, tmp_path)
    _assert_clean_failure(result, out, "missing.csv:1", "['tone'] are missing")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,topics,tone\nA,trade,neutral\nB, with comma,trade,neutral\n")
    result, out = _train(tiny_config, ragged, tmp_path)
    _assert_clean_failure(result, out, "ragged.csv:3", "4 fields but the header has 3")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text,topics,tone\nA,trade,neutral\nCaf\xe9 talks,,neutral\n")
    result, out = _train(tiny_config, latin, tmp_path)
    _assert_clean_failure(result, out, "latin.csv:3", "not UTF-8")


def test_csv_with_bom_crlf_and_quoted_newlines_works(tiny_config, tmp_path):
    rows = [json.loads(line) for line in TINY_DATA.read_text().splitlines()]
    lines = ["text,topics,tone,article"]
    for i, r in enumerate(rows):
        text = r["text"] if i else 'Officials said, "talks\nwill resume", on Monday'
        lines.append(",".join(['"' + text.replace('"', '""') + '"', ";".join(r["topics"]), r["tone"], r["article"]]))
    data = tmp_path / "excel.csv"
    data.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    result, out = _train(tiny_config, data, tmp_path)
    assert result.exit_code == 0, result.output
    assert (out / "stancetag.json").is_file()


def test_configured_label_without_examples(tiny_config, tmp_path):
    data = tmp_path / "no_trade.jsonl"
    kept = [line for line in TINY_DATA.read_text().splitlines() if "trade" not in json.loads(line)["topics"]]
    data.write_text("\n".join(kept) + "\n")
    result, out = _train(tiny_config, data, tmp_path)
    _assert_clean_failure(result, out, 'topic "trade" has no example', "remove it from labels.topics")


def test_train_refuses_dev_that_leaks_from_train(tiny_config, tmp_path):
    dev = tmp_path / "dev.jsonl"
    dev.write_text(TINY_DATA.read_text().splitlines()[3] + "\n")
    result, out = _train(tiny_config, TINY_DATA, tmp_path, "--dev", str(dev))
    _assert_clean_failure(result, out, "dev.jsonl:1", "tiny.jsonl:4", "leakage")


@pytest.mark.parametrize(
    "section,key,value,message",
    [
        ("training", "epochz", 3, "unknown key `training.epochz`"),
        ("training", "batch_size", "big", "`training.batch_size` must be of type int"),
        ("model", "max_length", None, "missing required key `model.max_length`"),
    ],
)
def test_bad_config_through_cli(tiny_config, tmp_path, section, key, value, message):
    import yaml

    raw = yaml.safe_load(tiny_config.read_text())
    if value is None:
        del raw[section][key]
    else:
        raw[section][key] = value
    tiny_config.write_text(yaml.safe_dump(raw))
    result, out = _train(tiny_config, TINY_DATA, tmp_path)
    _assert_clean_failure(result, out, str(tiny_config), message)


def _predict(model, tmp_path, *args):
    out = tmp_path / "tags.jsonl"
    result = runner.invoke(app, ["predict", "--model", str(model), "--output", str(out), *args])
    return result, out


def test_model_directory_problems(trained_tiny, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Tariffs rose on Monday.")
    result, out = _predict(tmp_path / "missing", tmp_path, str(article))
    _assert_clean_failure(result, out, "not a model directory")

    broken = tmp_path / "broken"
    shutil.copytree(trained_tiny, broken)
    meta = json.loads((broken / "stancetag.json").read_text())
    (broken / "stancetag.json").write_text(json.dumps({**meta, "format_version": 99}))
    result, out = _predict(broken, tmp_path, str(article))
    _assert_clean_failure(result, out, "format version 99", "retrain")

    (broken / "stancetag.json").write_text(json.dumps(meta))
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    result, out = _predict(broken, tmp_path, str(article))
    _assert_clean_failure(result, out, "corrupted weights file")

    (broken / "model.safetensors").unlink()
    result, out = _predict(broken, tmp_path, str(article))
    _assert_clean_failure(result, out, "weights file missing")


def test_metrics_rejects_labels_the_model_does_not_know(trained_tiny, tmp_path):
    data = tmp_path / "other.jsonl"
    data.write_text('{"text": "Visa rules changed.", "topics": ["visas"], "tone": "neutral"}\n')
    result = runner.invoke(app, ["metrics", "--model", str(trained_tiny), "--data", str(data)])
    assert result.exit_code == 2 and 'unknown topic "visas"' in result.stderr


def test_predict_input_problems_leave_no_output(trained_tiny, tmp_path):
    result, out = _predict(trained_tiny, tmp_path, str(tmp_path / "none.txt"))
    _assert_clean_failure(result, out, "none.txt", "no such input file")
    bad = tmp_path / "rows.jsonl"
    bad.write_text('{"text": "Fine."}\n{"article": "x"}\n')
    result, out = _predict(trained_tiny, tmp_path, str(bad))
    _assert_clean_failure(result, out, "rows.jsonl:2", 'missing or empty "text"')
    result, out = _predict(trained_tiny, tmp_path, str(tmp_path / "notes.docx"))
    _assert_clean_failure(result, out, "notes.docx", "unsupported input type")


def test_odd_articles_are_tagged_not_crashed(trained_tiny, tmp_path):
    empty_article = tmp_path / "empty.txt"
    empty_article.write_text("\n\n   \n")
    long_sentence = tmp_path / "long.txt"
    long_sentence.write_text(" ".join(["tariffs"] * 5000) + ".")
    chinese = tmp_path / "zh.txt"
    chinese.write_text("中国外交部周二表示，反对美国对台军售。")
    result, out = _predict(trained_tiny, tmp_path, str(empty_article), str(long_sentence), str(chinese))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["article"] for r in records} == {"long", "zh"}
    assert records[-1]["text"].startswith("中国外交部") and records[-1]["tone"] in records[-1]["tone_scores"]
    assert "article empty has no sentences" in result.stderr
    assert "longer than 32 tokens were truncated" in result.stderr


def test_check_summarises_and_warns_about_leaks(tmp_path):
    test_file = tmp_path / "test.jsonl"
    test_file.write_text(TINY_DATA.read_text().splitlines()[0] + "\n")
    result = runner.invoke(app, ["check", str(TINY_DATA), str(test_file), "--config", "configs/default.yaml"])
    assert result.exit_code == 0, result.output
    assert "tiny.jsonl: 60 sentences in 8 articles" in result.stdout
    assert "1 sentence(s) appear in both" in result.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "topics": ["trad"], "tone": "neutral"}\n')
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2 and 'did you mean "trade"' in result.stderr
