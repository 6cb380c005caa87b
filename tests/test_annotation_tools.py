"""`stancetag import`: exports of Label Studio, Argilla and Prodigy (hand-written from their docs, in
tests/data/annotations/) become labeled JSONL that trains; bad records are one-line errors; and
what `suggest` exports comes back on the right sentences after annotation."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.config import load_config
from stancetag.labeled import load_examples

from .conftest import DATA

SAMPLES = DATA / "annotations"
LABELS = load_config(DATA / "tiny.yaml").labels
runner = CliRunner()


def _import(*args):
    result = runner.invoke(app, ["import", "--config", str(DATA / "tiny.yaml"), *map(str, args)])
    rows = [json.loads(line) for line in result.stdout.splitlines()] if result.exit_code == 0 else None
    return result, rows


def _clean_failure(result, out: Path | None, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    if out is not None:
        assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), "nothing half-written"


def test_label_studio_export_keeps_annotator_and_time_and_prefers_ground_truth():
    result, rows = _import(SAMPLES / "label_studio.json")
    assert result.exit_code == 0, result.output
    labels = [(r["text"][:30], r["topics"], r["tone"]) for r in rows]
    assert labels == [
        ("Chinese warships and aircraft ", ["taiwan", "military_ties"], "contentious"),
        ("The talks were held at the Gre", [], "neutral"),  # no topic chosen: no `topics` result
        ("Washington and Beijing agreed ", ["trade"], "cooperative"),  # two annotators agree
        ("Beijing lodged stern represent", ["taiwan", "military_ties"], "contentious"),  # the ground truth wins
    ]
    assert rows[0]["annotations"] == [{"annotator": "2", "annotated_at": "2025-03-04T09:12:40.118283Z"}]
    assert rows[1]["annotations"][0]["annotator"] == "bo@example.org"  # completed_by expanded to a user
    assert [a["annotator"] for a in rows[2]["annotations"]] == ["2", "3"]
    assert [a["annotator"] for a in rows[3]["annotations"]] == ["4"]
    assert (rows[0]["article"], rows[0]["sentence_index"], rows[0]["annotation_tool"]) == ("ls-a", 0, "label-studio")
    assert "4 labeled sentences from Label Studio (skipped 1 tasks without a finished annotation)" in result.stderr


def test_argilla_nested_and_flat_exports():
    result, rows = _import(SAMPLES / "argilla.json")
    assert result.exit_code == 0, result.output
    assert [(r["topics"], r["tone"]) for r in rows] == [(["trade"], "contentious"), ([], "neutral")]
    assert rows[0]["annotations"] == [
        {"annotator": "5e1c6d2a-0000-4000-8000-00000000a11c", "annotated_at": "2025-04-01T12:07:31"}
    ]
    assert "skipped 2 records without a submitted response" in result.stderr  # pending, and discarded
    result, rows = _import(SAMPLES / "argilla_flat.jsonl")
    assert result.exit_code == 0, result.output
    assert [(r["article"], r["topics"], r["tone"]) for r in rows] == [
        ("ar-c", ["military_ties"], "contentious"),
        ("ar-c", ["trade"], "neutral"),  # the annotator's answer, not the suggestion
    ]
    assert [a["annotator"] for a in rows[0]["annotations"]] == ["u-alice", "u-bo"]


def test_prodigy_export_merges_annotators_of_one_task_and_skips_ignored():
    result, rows = _import(SAMPLES / "prodigy.jsonl")
    assert result.exit_code == 0, result.output
    assert [(r["topics"], r["tone"]) for r in rows] == [
        (["taiwan", "military_ties"], "cooperative"),
        ([], "neutral"),
        (["trade"], "contentious"),
    ]
    assert rows[0]["annotations"] == [{"annotator": "stance-alice", "annotated_at": "2025-03-10T09:46:40Z"}]
    assert [a["annotator"] for a in rows[2]["annotations"]] == ["stance-alice", "stance-bo"]
    assert "skipped 1 tasks answered 'ignore'" in result.stderr


def test_imported_files_pass_every_check_training_data_passes(tmp_path):
    out = tmp_path / "imported.jsonl"
    paths = [SAMPLES / n for n in ("label_studio.json", "argilla.json", "argilla_flat.jsonl", "prodigy.jsonl")]
    result, _ = _import(*paths, "--output", out)
    assert result.exit_code == 0, result.output
    examples = load_examples(out, LABELS)
    assert len(examples) == 11 and len({e.article for e in examples}) == 7
    check = runner.invoke(app, ["check", "--config", str(DATA / "tiny.yaml"), str(out)])
    assert check.exit_code == 0, check.output


def _edited(tmp_path, name, old, new):
    path = tmp_path / name
    text = (SAMPLES / name).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


BAD = [
    (
        "label_studio.json",
        '"choices": ["taiwan", "military_ties"]',
        '"choices": ["taiwan", "militry_ties"]',
        ['label_studio.json: record 1 (Label Studio task 101): unknown topic "militry_ties"', 'mean "military_ties"'],
    ),
    (
        "label_studio.json",
        '"from_name": "tone", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}',
        '"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}',
        ['record 2 (Label Studio task 102): a result from the control "sentiment"'],
    ),
    (
        "argilla.json",
        '"tone": [{"value": "contentious", "user_id": "5e1c6d2a-0000-4000-8000-00000000a11c", "status": "submitted"}]',
        '"tone": []',
        ['argilla.json: record 1 (Argilla record ar-a#0): missing "tone"'],
    ),
    (
        "prodigy.jsonl",
        '"accept": ["tone:neutral"]',
        '"accept": ["tone:neutral", "tone:cooperative"]',
        ["prodigy.jsonl:2: 2 tones accepted (neutral, cooperative); choose exactly one"],
    ),
    (
        "prodigy.jsonl",
        '"Taiwan\'s defense ministry thanked Washington for the sale."',
        '"   "',
        ['prodigy.jsonl: line 1: "text" is empty'],
    ),
    ("label_studio.json", '"id": 101,', '"id": 101,,', ["label_studio.json:3: not valid JSON"]),
]


@pytest.mark.parametrize("name,old,new,fragments", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_a_bad_record_is_one_line_naming_file_and_record(tmp_path, name, old, new, fragments):
    out = tmp_path / "out" / "imported.jsonl"
    result, _ = _import(_edited(tmp_path, name, old, new), "--output", out)
    _clean_failure(result, out, *fragments)


def test_annotators_who_disagree_are_an_error_unless_skipped(tmp_path):
    path = tmp_path / "prodigy.jsonl"
    lines = (SAMPLES / "prodigy.jsonl").read_text().splitlines()
    lines[-1] = lines[-1].replace('"tone:contentious"', '"tone:neutral"')
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "imported.jsonl"
    result, _ = _import(path, "--output", out)
    _clean_failure(result, out, "prodigy.jsonl:4: line 4: annotators disagree (stance-alice:", "--skip-conflicts")
    result, rows = _import(path, "--skip-conflicts")
    assert result.exit_code == 0 and len(rows) == 2
    assert "1 sentences whose annotators disagree" in result.stderr


def test_the_same_sentence_labeled_differently_in_two_exports_is_an_error(tmp_path):
    other = tmp_path / "again.jsonl"
    row = json.loads((SAMPLES / "prodigy.jsonl").read_text().splitlines()[0])
    row["accept"] = ["topic:taiwan", "tone:neutral"]
    other.write_text(json.dumps(row) + "\n")
    result, _ = _import(SAMPLES / "prodigy.jsonl", other)
    _clean_failure(
        result, None, "again.jsonl: line 1: the same sentence has different labels on", "prodigy.jsonl:1 and here"
    )


def test_a_file_no_tool_wrote_is_named_with_the_fix(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_text('{"text": "Tariffs rose.", "topics": ["trade"], "tone": "contentious"}\n')
    result, _ = _import(path)
    _clean_failure(result, None, "plain.jsonl:1: cannot tell which tool exported this file", "--from label-studio")
    result, _ = _import(path, "--from", "doccano")
    _clean_failure(result, None, "--from 'doccano': choose auto, label-studio, argilla, prodigy")


def _annotate(fmt: str, exported: str, tone: str) -> str:
    """What the tool would export after an annotator accepted the topics and set every tone to `tone`."""
    if fmt == "label-studio":
        tasks = json.loads(exported)
        for k, task in enumerate(tasks, start=1):
            result = [dict(r) for r in task["predictions"][0]["result"] if r["from_name"] == "topics"]
            result.append({"from_name": "tone", "to_name": "text", "type": "choices", "value": {"choices": [tone]}})
            task["id"] = k
            task["annotations"] = [{"completed_by": 1, "result": result, "was_cancelled": False, "updated_at": "t"}]
        return json.dumps(tasks)
    if fmt == "argilla":
        records = json.loads(exported)
        for r in records:
            topics = [s["value"] for s in r["suggestions"] if s["question_name"] == "topics"]
            r["responses"] = {"tone": [{"value": tone, "user_id": "u1", "status": "submitted"}]}
            if topics:
                r["responses"]["topics"] = [{"value": topics[0], "user_id": "u1", "status": "submitted"}]
            r["status"] = "completed"
        return json.dumps(records)
    tasks = [json.loads(line) for line in exported.splitlines()]
    for t in tasks:
        t["accept"] = [a for a in t["accept"] if a.startswith("topic:")] + [f"tone:{tone}"]
        t.update(answer="accept", _annotator_id="ann-1", _timestamp=1741600000)
    return "".join(json.dumps(t) + "\n" for t in tasks)


@pytest.mark.parametrize("fmt,suffix", [("label-studio", ".json"), ("argilla", ".json"), ("prodigy", ".jsonl")])
def test_suggest_export_annotate_import_round_trip(trained_tiny, tmp_path, fmt, suffix):
    exported = tmp_path / f"tasks{suffix}"
    result = runner.invoke(
        app,
        ["suggest", "--model", str(trained_tiny), "-n", "6", "--format", fmt, "--output", str(exported)]
        + ["seeds/seed_article.txt"],
    )
    assert result.exit_code == 0, result.output
    suggested = runner.invoke(app, ["suggest", "--model", str(trained_tiny), "-n", "6", "seeds/seed_article.txt"])
    expected = [json.loads(line) for line in suggested.stdout.splitlines()]
    annotated = tmp_path / f"annotated{suffix}"
    annotated.write_text(_annotate(fmt, exported.read_text(), "neutral"))
    result, rows = _import(annotated)
    assert result.exit_code == 0, result.output
    assert [(r["article"], r["sentence_index"], r["text"]) for r in rows] == [
        (e["article"], e["sentence_index"], e["text"]) for e in expected
    ]
    assert [r["topics"] for r in rows] == [e["topics"] for e in expected]
    assert {r["tone"] for r in rows} == {"neutral"} and all(r["annotation_tool"] == fmt for r in rows)
