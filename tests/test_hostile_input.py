"""Hostile or careless input, one test per class: folders holding more than articles, CSV fields
over Python's limit, standard input that is not UTF-8, lone surrogates, JSON nested too deep,
spreadsheet formulas and terminal escapes in the text, an ASCII-only standard output, and a
--bootstrap too large to hold. Each is either handled or one line on stderr with exit code 2."""

import csv
import io
import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.errors import UserError
from stancetag.evaluation import bootstrap
from stancetag.evaluation.quantify import AdjustedCount, LabeledSample
from stancetag.writers import csv_original_text, csv_safe_text

from .conftest import TINY_DATA

runner = CliRunner()


def _predict(model, *args, **kwargs):
    return runner.invoke(app, ["predict", "--model", str(model), *map(str, args)], **kwargs)


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


def _records(text):
    return [json.loads(line) for line in text.splitlines()]


def test_input_folders_skip_what_is_not_an_article_and_keep_subfolders_in_ids(trained_tiny, tmp_path):
    news = tmp_path / "news"
    (news / "2020").mkdir(parents=True)
    (news / ".ipynb_checkpoints").mkdir()
    (news / "a.txt").write_text("Tariffs rose on steel.")
    (news / "2020" / "a.txt").write_text("Talks resumed in Geneva.")
    (news / ".ipynb_checkpoints" / "a-checkpoint.txt").write_text("An old copy.")
    (news / ".draft.txt").write_text("A hidden draft.")
    (news / "b.txt~").write_text("An editor backup.")
    (news / "notes.md").write_text("Not an input type: passed over silently.")
    # an earlier run's predictions and their sidecar, as `predict --output news/old.jsonl` leaves them
    (news / "old.jsonl").write_text('{"article": "a", "sentence_index": 0, "text": "Tariffs rose on steel."}\n')
    (news / "old.jsonl.model.json").write_text('{"thresholds": {}}')
    # and predictions copied in without their sidecar: recognised by their records
    record = {"article": "a", "sentence_index": 0, "text": "Tariffs rose.", "topics": [], "tone_scores": {}}
    (news / "copied.jsonl").write_text(json.dumps(record) + "\n")

    result = _predict(trained_tiny, news)
    assert result.exit_code == 0, result.output
    assert sorted(r["article"] for r in _records(result.stdout)) == ["2020/a", "a"]
    note = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(note) == 1 and "skipped 6 " in note[0], result.stderr
    assert ".ipynb_checkpoints/ (hidden)" in note[0] and "and 3 more" in note[0]

    # a file named directly is read whatever its name
    direct = _predict(trained_tiny, news / ".draft.txt")
    assert direct.exit_code == 0 and _records(direct.stdout)[0]["article"] == ".draft"

    only_copies = tmp_path / "copies"
    only_copies.mkdir()
    (only_copies / "a.txt~").write_text("x")
    _one_line_error(_predict(trained_tiny, only_copies), "copies", "holds no", "a.txt~ (an editor or unfinished copy)")


def test_csv_fields_past_the_csv_module_limit(trained_tiny, tmp_path, monkeypatch):
    from stancetag import readers

    long_text = " ".join(["tariffs"] * 30_000) + "."  # 240 KB in one cell, over Python's 128 KB default
    source = tmp_path / "long.csv"
    source.write_text(f'article,text\nbig,"{long_text}"\n')
    result = _predict(trained_tiny, "--format", "csv", source)
    assert result.exit_code == 0, result.output
    assert {r["article"] for r in csv.DictReader(io.StringIO(result.stdout, newline=""))} == {"big"}

    # past the (bounded) limit, typically a quote never closed: one line at the row's first line
    monkeypatch.setattr(readers, "CSV_FIELD_LIMIT", 1000)
    broken = tmp_path / "unclosed.csv"
    broken.write_text('article,text\nok,"Fine."\nbad,"Never closed.\n' + "more text\n" * 200)
    _one_line_error(_predict(trained_tiny, broken), "unclosed.csv:3:", "a field longer than", "never closed")


def test_standard_input_that_is_not_utf8(trained_tiny):
    result = _predict(trained_tiny, "-", input=b"Talks resumed.\nCaf\xe9 owners protested tariffs.\n")
    _one_line_error(result, "<stdin>:2:", "not UTF-8 (byte 0xe9)", "re-encode the input as UTF-8")
    fine = _predict(trained_tiny, "-", input="Café owners protested tariffs.".encode())
    assert fine.exit_code == 0 and _records(fine.stdout)[0]["text"].startswith("Café")


def test_lone_surrogates_are_refused_where_they_are_read(trained_tiny, tiny_config, tmp_path):
    good = '{"text": "Tariffs rose.", "topics": ["trade"], "tone": "contentious", "article": "a"}'
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(good + '\n{"text": "Talks \\ud800 resumed.", "outlet": "Post"}\n')
    _one_line_error(_predict(trained_tiny, jsonl), "rows.jsonl:2:", "\\ud800 is half of a UTF-16 surrogate pair")
    in_metadata = tmp_path / "meta.jsonl"
    in_metadata.write_text('{"text": "Talks resumed.", "tags": ["ok", "\\udc00"]}\n')
    _one_line_error(_predict(trained_tiny, in_metadata), "meta.jsonl:1:", "\\udc00")
    pair = tmp_path / "pair.jsonl"  # a whole pair is one character and is fine
    pair.write_text('{"text": "Talks resumed \\ud83d\\ude00."}\n')
    assert _predict(trained_tiny, pair).exit_code == 0

    array = tmp_path / "labeled.json"  # a JSON array, read through `datasets` (which would drop it)
    array.write_text(f'[\n{good},\n{{"text": "b \\udfff", "topics": [], "tone": "neutral", "article": "b"}}\n]\n')
    out = tmp_path / "model"
    trained = runner.invoke(app, ["train", "--config", tiny_config, "--data", array, "--output", out])
    _one_line_error(trained, "labeled.json:3:", "\\udfff is half of a UTF-16 surrogate pair")
    assert not out.exists()
    (tmp_path / "latin1").mkdir()  # a Latin-1 file name would be part of an article id
    (tmp_path / "latin1" / os.fsdecode(b"caf\xe9.txt")).write_text("Talks resumed.")
    _one_line_error(_predict(trained_tiny, tmp_path / "latin1"), "caf\\xe9.txt", "file name is not UTF-8")
    as_bytes = tmp_path / "rows.csv"  # in a CSV the surrogate can only be encoded bytes, which are not UTF-8
    as_bytes.write_bytes(b"text\nTalks \xed\xa0\x80 resumed.\n")
    _one_line_error(_predict(trained_tiny, as_bytes), "rows.csv:2:", "not UTF-8")


@pytest.mark.parametrize("depth", [150, 100_000])
def test_json_nested_too_deep(trained_tiny, tmp_path, depth):
    source = tmp_path / "deep.jsonl"
    nested = "[" * depth + "]" * depth
    source.write_text(f'{{"text": "Talks resumed."}}\n{{"text": "Tariffs rose.", "extra": {nested}}}\n')
    _one_line_error(_predict(trained_tiny, source), "deep.jsonl:2:", "nested more than 100 levels")


def test_csv_output_neutralises_spreadsheet_formulas(trained_tiny, tmp_path):
    source = tmp_path / "in.jsonl"
    row = {
        "article": "=cmd|' /C calc'!A0",
        "text": '=HYPERLINK("http://evil.example") rose.',
        "outlet": "@SUM(A1:A9)",
        "note": "\tindented",
        "change": "-3.5",
        "score": -2,
    }
    source.write_text(json.dumps(row) + "\n")
    out = tmp_path / "tags.csv"
    result = _predict(trained_tiny, "--format", "csv", "--output", out, source)
    assert result.exit_code == 0, result.output
    (cells,) = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    assert cells["article"] == "'=cmd|' /C calc'!A0"
    assert cells["text"] == "'" + row["text"]
    assert (cells["outlet"], cells["note"]) == ("'@SUM(A1:A9)", "'\tindented")
    assert (cells["change"], cells["score"]) == ("-3.5", "-2")  # numbers stay numbers
    suggested = runner.invoke(
        app, ["suggest", "--model", str(trained_tiny), "--format", "csv", "--count", "1", str(source)]
    )
    assert suggested.exit_code == 0, suggested.output
    (pick,) = list(csv.DictReader(io.StringIO(suggested.stdout, newline="")))
    assert pick["text"] == "'" + row["text"] and pick["article"] == "'=cmd|' /C calc'!A0"
    # the escape is exact to undo (resume reads article ids back from a CSV)
    for text in ("=1+2", "'=1+2", "''@x", "'Tis", "-", "-7", "plain"):
        assert csv_original_text(csv_safe_text(text)) == text


def test_table_strips_terminal_escapes_and_control_characters(trained_tiny, tmp_path):
    source = tmp_path / "in.jsonl"
    text = "\x1b[2J\x1b]0;owned\x07Tariffs\x00 rose\x9b31m on\x7f steel.\x1b[0m"
    source.write_text(json.dumps({"article": "a\x1b[31mred", "text": text}) + "\n")
    for level in ("sentence", "article"):
        result = _predict(trained_tiny, "--format", "table", "--level", level, source)
        assert result.exit_code == 0, result.output
        assert not any(c in result.stdout for c in "\x1b\x07\x00\x7f\x9b"), repr(result.stdout)
        assert "ared" in result.stdout
    assert "Tariffs rose on steel." in _predict(trained_tiny, "--format", "table", source).stdout
    suggested = runner.invoke(app, ["suggest", "--model", str(trained_tiny), "--format", "table", str(source)])
    assert suggested.exit_code == 0 and not any(c in suggested.stdout for c in "\x1b\x07\x00\x7f\x9b")
    labeled = tmp_path / "labeled.jsonl"
    rows = [json.loads(line) for line in TINY_DATA.read_text().splitlines() if line.strip()]
    rows[0]["text"] = text
    labeled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for fmt in ("table", "markdown"):
        audited = runner.invoke(app, ["audit", "--quick", "--folds", "2", "--format", fmt, str(labeled)])
        assert audited.exit_code == 0, audited.output
        assert "Tariffs rose on steel." in audited.stdout  # the sentence is listed, cleaned
        assert not any(c in audited.stdout for c in "\x1b\x07\x00\x7f\x9b"), repr(audited.stdout)


def test_ascii_only_standard_output(trained_tiny, tmp_path):
    ascii_runner = CliRunner(charset="ascii")  # as PYTHONIOENCODING=ascii or a C locale make it
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"article": "café", "text": "Café owners protested — again."}) + "\n")
    command = ["predict", "--model", str(trained_tiny), str(source)]
    jsonl = ascii_runner.invoke(app, command)
    assert jsonl.exit_code == 0, jsonl.output
    jsonl.stdout_bytes.decode("ascii")
    assert _records(jsonl.stdout)[0]["text"] == "Café owners protested — again."  # escaped, same JSON
    for fmt in ("table", "csv"):
        result = ascii_runner.invoke(app, [*command, "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "Caf? owners protested ? again." in result.stdout
        assert result.stderr.count("cannot show every character (encoding ascii)") == 1, result.stderr


def test_bootstrap_too_large_to_hold(trained_tiny, monkeypatch):
    result = runner.invoke(
        app, ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--bootstrap", str(10**12)]
    )
    _one_line_error(result, "--bootstrap 1000000000000", "pass --bootstrap 100000 or fewer")

    # under the cap on resamples, the memory they need is checked too: metrics' weights, trends' error rates
    monkeypatch.setattr(bootstrap, "MAX_BOOTSTRAP_VALUES", 10_000)
    with pytest.raises(UserError, match=r"--bootstrap 50000: 50000 resamples of 6 articles .* pass --bootstrap 833 "):
        bootstrap.resample_weights(6, 50_000, seed=0)
    clusters = np.array([0, 1, 2, 3])
    calibration = LabeledSample.from_items(
        np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1]), np.eye(2)[[0, 1, 1, 1]], clusters
    )
    with pytest.raises(UserError, match=r"50000 resamples of 4 calibration articles .* pass --bootstrap 416 "):
        AdjustedCount("pacc", resamples=50_000).fit(calibration)
