"""Finished annotations from Label Studio, Argilla or Prodigy, back into stancetag's labeled JSONL.

Each tool's export is read as its documentation describes it (docs/annotation_tools.md), turned
into rows of `text`, `topics`, `tone`, `article`, and validated by `stancetag.labeled` exactly as
training data is (same checks, same messages), so a file `import` writes always trains. Who
labeled a sentence and when is kept where the tool records it, in `annotations`:
`[{"annotator": ..., "annotated_at": ISO 8601}]`, one entry per annotator who agreed.

A sentence that several annotators labeled differently is an error naming the record (resolve it
in the tool), or, with `skip_conflicts`, left out with a warning that counts it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stancetag.config import LabelsConfig
from stancetag.errors import UserError, located
from stancetag.labeled import ExampleSet, example_from_row
from stancetag.loop.tasks import TONE_PREFIX, TONE_QUESTION, TOPIC_PREFIX, TOPICS_QUESTION
from stancetag.readers import check_readable_file, iter_rows

log = logging.getLogger(__name__)

TOOLS = ("label-studio", "argilla", "prodigy")
TOOL_NAMES = {"label-studio": "Label Studio", "argilla": "Argilla", "prodigy": "Prodigy"}
PASSED_THROUGH = ("article", "sentence_index", "register", "era")


@dataclass
class Answer:
    """One annotator's labels for one sentence."""

    topics: Any  # validated later, with the training-data checks
    tone: Any
    annotator: str | None = None
    annotated_at: str | None = None


@dataclass
class Item:
    """One sentence of an export: where it is, what the tool keeps about it, and its answers."""

    number: int  # record number in a JSON array, line number in JSONL
    where: str  # e.g. "record 3 (Label Studio task 17)", for messages
    text: Any
    extra: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)


@dataclass
class ImportResult:
    tool: str
    rows: list[dict]
    skipped: Counter


def _iso_time(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # Prodigy: Unix seconds
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def read_records(path: Path) -> list[tuple[int, Any]]:
    """(number, record): the items of a JSON array (numbered from 1), or the lines of a JSONL file."""
    check_readable_file(path, "annotation export")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return list(iter_rows(path, ()))
    if path.suffix.lower() != ".json":
        raise located(path, None, f"unsupported file type {path.suffix or '(none)'}; export as .json or .jsonl")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise located(path, None, "bytes that are not UTF-8; re-export the file") from err
    except json.JSONDecodeError as err:
        raise located(
            path, err.lineno, f"not valid JSON ({err.msg} at column {err.colno}); re-export the file"
        ) from err
    if isinstance(data, dict) and isinstance(data.get("records"), list):
        data = data["records"]
    if not isinstance(data, list):
        raise located(path, None, f"expected a JSON array of exported records, found a {type(data).__name__}")
    return list(enumerate(data, start=1))


def detect_tool(path: Path, records: list[tuple[int, Any]]) -> str:
    for _, record in records[:1]:
        if isinstance(record, dict):
            if "annotations" in record and "data" in record:
                return "label-studio"
            if "fields" in record or "responses" in record or any(k.endswith(".responses") for k in record):
                return "argilla"
            if "answer" in record or ("accept" in record and "options" in record):
                return "prodigy"
    raise located(
        path,
        records[0][0] if records else None,
        "cannot tell which tool exported this file (no Label Studio `annotations`, Argilla `responses` "
        "or Prodigy `answer`); pass --from label-studio, argilla or prodigy",
    )


def _record(path: Path, number: int, raw: Any, tool: str) -> dict:
    if not isinstance(raw, dict):
        raise located(path, number, f"{TOOL_NAMES[tool]} record {number} is a {type(raw).__name__}, not an object")
    return raw


def _extra(source: dict) -> dict[str, Any]:
    return {k: source[k] for k in PASSED_THROUGH if source.get(k) not in (None, "")}


# --- Label Studio: JSON export, a list of tasks with `annotations` --------------------------------


def _label_studio_user(value: Any) -> str | None:
    if isinstance(value, dict):  # newer exports expand the user
        value = value.get("email") or value.get("username") or value.get("id")
    return None if value is None else str(value)


def label_studio_items(path: Path, records: list[tuple[int, Any]], skipped: Counter) -> list[Item]:
    items = []
    for number, raw in records:
        task = _record(path, number, raw, "label-studio")
        data = task.get("data")
        if not isinstance(data, dict):
            raise located(path, number, 'task has no "data" object; export with Label Studio\'s "JSON" format')
        where = f"record {number} (Label Studio task {task.get('id', '?')})"
        item = Item(number, where, data.get("text"), _extra(data))
        annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if any(a.get("ground_truth") for a in annotations):
            annotations = [a for a in annotations if a.get("ground_truth")]
        for annotation in annotations:
            topics: Any = []
            tone: Any = None
            for region in annotation.get("result") or []:
                name = region.get("from_name")
                choices = (region.get("value") or {}).get("choices")
                if name == TOPICS_QUESTION:
                    topics = choices
                elif name == TONE_QUESTION:
                    if not isinstance(choices, list) or len(choices) != 1:
                        raise located(
                            path,
                            number,
                            f"{where}: tone has {choices!r}, expected exactly one choice; "
                            'set choice="single-radio" on the tone control',
                        )
                    tone = choices[0]
                else:
                    raise located(
                        path,
                        number,
                        f'{where}: a result from the control "{name}"; stancetag reads the controls '
                        f'"{TOPICS_QUESTION}" and "{TONE_QUESTION}" (labeling config in docs/annotation_tools.md)',
                    )
            item.answers.append(
                Answer(
                    topics,
                    tone,
                    _label_studio_user(annotation.get("completed_by")),
                    _iso_time(annotation.get("updated_at") or annotation.get("created_at")),
                )
            )
        if not item.answers:
            skipped["tasks without a finished annotation"] += 1
            continue
        items.append(item)
    return items


# --- Argilla 2.x: records with `responses` (nested JSON) or `QUESTION.responses` columns (flat) ------

DONE = ("submitted", None)  # a response without a status (nested export) counts as submitted


def _argilla_answers(record: dict, path: Path, number: int, where: str) -> list[Answer]:
    by_user: dict[str, dict[str, Any]] = {}
    responses = record.get("responses")
    if isinstance(responses, dict):  # {question: [{"value", "user_id", "status"?}]}
        responses = [
            {**r, "question_name": q} for q, rs in responses.items() for r in (rs or []) if isinstance(r, dict)
        ]
    if responses is None:  # flat: "topics.responses", "topics.responses.users", "topics.responses.status"
        responses = []
        for question in (TOPICS_QUESTION, TONE_QUESTION):
            values = record.get(f"{question}.responses") or []
            users = record.get(f"{question}.responses.users") or [None] * len(values)
            statuses = record.get(f"{question}.responses.status") or [None] * len(values)
            if not (len(values) == len(users) == len(statuses)):
                raise located(path, number, f"{where}: {question}.responses and its users/status differ in length")
            responses += [
                {"question_name": question, "value": v, "user_id": u, "status": s}
                for v, u, s in zip(values, users, statuses, strict=True)
            ]
    if not isinstance(responses, list):
        raise located(path, number, f"{where}: `responses` must be a list or an object of lists")
    for response in responses:
        if not isinstance(response, dict) or response.get("status") not in DONE:
            continue  # drafts and discarded responses are not labels
        question = response.get("question_name")
        if question not in (TOPICS_QUESTION, TONE_QUESTION):
            raise located(
                path,
                number,
                f'{where}: a response to the question "{question}"; stancetag reads the questions '
                f'"{TOPICS_QUESTION}" and "{TONE_QUESTION}" (dataset settings in docs/annotation_tools.md)',
            )
        user = response.get("user_id")
        by_user.setdefault("" if user is None else str(user), {})[question] = response.get("value")
    when = _iso_time(record.get("updated_at") or record.get("inserted_at"))
    return [
        Answer(labels.get(TOPICS_QUESTION) or [], labels.get(TONE_QUESTION), user or None, when)
        for user, labels in by_user.items()
    ]


def argilla_items(path: Path, records: list[tuple[int, Any]], skipped: Counter) -> list[Item]:
    items = []
    for number, raw in records:
        record = _record(path, number, raw, "argilla")
        fields = record.get("fields") if isinstance(record.get("fields"), dict) else record
        metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else record
        where = f"record {number} (Argilla record {record.get('id', '?')})"
        item = Item(number, where, fields.get("text"), _extra(metadata))
        item.answers = _argilla_answers(record, path, number, where)
        if not item.answers:
            skipped["records without a submitted response"] += 1
            continue
        items.append(item)
    return items


# --- Prodigy: JSONL from `prodigy db-out`, choice tasks with `accept` and `answer` ----------------


def prodigy_items(path: Path, records: list[tuple[int, Any]], skipped: Counter) -> list[Item]:
    grouped: dict[Any, Item] = {}
    for number, raw in records:
        task = _record(path, number, raw, "prodigy")
        answer = task.get("answer")
        if answer != "accept":
            skipped[f"tasks answered {answer!r}" if answer else "tasks without an answer"] += 1
            continue
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        accepted = task.get("accept")
        if not isinstance(accepted, list):
            raise located(path, number, f'"accept" must be the list of chosen option ids, found {accepted!r}')
        topics, tones = [], []
        for option in accepted:
            if isinstance(option, str) and option.startswith(TOPIC_PREFIX):
                topics.append(option[len(TOPIC_PREFIX) :])
            elif isinstance(option, str) and option.startswith(TONE_PREFIX):
                tones.append(option[len(TONE_PREFIX) :])
            else:
                raise located(
                    path,
                    number,
                    f'accepted option {option!r} is neither "{TOPIC_PREFIX}NAME" nor "{TONE_PREFIX}NAME"; '
                    "annotate the tasks `stancetag suggest --format prodigy` writes",
                )
        if len(tones) > 1:
            raise located(path, number, f"{len(tones)} tones accepted ({', '.join(tones)}); choose exactly one")
        key = task.get("_input_hash", task.get("text"))
        if key not in grouped:
            grouped[key] = Item(number, f"line {number}", task.get("text"), _extra(meta))
        grouped[key].answers.append(
            Answer(
                topics,
                tones[0] if tones else None,
                task.get("_annotator_id") or task.get("_session_id"),
                _iso_time(task.get("_timestamp")),
            )
        )
    return list(grouped.values())


PARSERS = {"label-studio": label_studio_items, "argilla": argilla_items, "prodigy": prodigy_items}


def _agreed(item: Item, path: Path, skip_conflicts: bool, skipped: Counter) -> Answer | None:
    """The answer every annotator of `item` gave, or None (skipped) / an error when they differ."""
    first = item.answers[0]

    def key(a: Answer) -> Any:
        return (sorted(a.topics) if isinstance(a.topics, list) else repr(a.topics), a.tone)

    differing = [a for a in item.answers if key(a) != key(first)]
    if not differing:
        return first
    if skip_conflicts:
        skipped["sentences whose annotators disagree"] += 1
        return None
    other = differing[0]
    raise located(
        path,
        item.number,
        f"{item.where}: annotators disagree ({first.annotator or 'one'}: {first.topics} {first.tone}; "
        f"{other.annotator or 'another'}: {other.topics} {other.tone}); resolve it in the tool "
        "(or pass --skip-conflicts to leave such sentences out)",
    )


def import_annotations(
    path: Path,
    labels: LabelsConfig,
    tool: str = "auto",
    *,
    skip_conflicts: bool = False,
    seen: ExampleSet | None = None,
) -> ImportResult:
    """Read one export and return validated stancetag rows (text, topics, tone, article, annotations).

    `seen` carries the sentences of earlier files, so a sentence labeled differently in two exports is
    caught too."""
    path = Path(path)
    if tool != "auto" and tool not in TOOLS:
        raise UserError(f"--from {tool!r}: choose auto, {', '.join(TOOLS)}")
    records = read_records(path)
    if not records:
        raise located(path, None, "the export holds no records")
    tool = detect_tool(path, records) if tool == "auto" else tool
    skipped: Counter = Counter()
    kept = seen if seen is not None else ExampleSet()
    rows = []
    for item in PARSERS[tool](path, records, skipped):
        answer = _agreed(item, path, skip_conflicts, skipped)
        if answer is None:
            continue
        row = {"text": item.text, "topics": answer.topics, "tone": answer.tone, **item.extra}
        try:
            example = example_from_row(row, labels, path, item.number, f"{path.name}:{item.number}")
            if not kept.add(example):
                continue
        except UserError as err:  # the training-data message, pointed at the record
            prefix = f"{path}:{item.number}: "
            message = str(err)
            raise UserError(
                f"{path}: {item.where}: {message[len(prefix) :]}" if message.startswith(prefix) else message
            ) from err
        who = [
            {"annotator": a.annotator, "annotated_at": a.annotated_at}
            for a in item.answers
            if a.annotator is not None or a.annotated_at is not None
        ]
        out = {"text": example.text, "topics": list(example.topics), "tone": example.tone, "article": example.article}
        out.update({k: v for k, v in item.extra.items() if k not in out})
        out["annotation_tool"] = tool
        if who:
            out["annotations"] = who
        rows.append(out)
    return ImportResult(tool, rows, skipped)
