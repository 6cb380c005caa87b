"""Pre-annotations for annotation tools: the model's labels and scores as suggestions to correct.

Three formats, written by hand from each tool's documentation (no SDK is installed; see
docs/annotation_tools.md for the project settings each one expects):

- `label-studio`: a JSON array of tasks, `{"data": {...}, "predictions": [{"model_version",
  "score", "result": [choices for "topics", choices for "tone"]}]}`, for a project whose labeling
  config is `label_studio_config()`.
- `argilla`: a JSON array of Argilla 2.x records, `{"id", "fields": {"text"}, "metadata",
  "suggestions": [{"question_name", "value", "score", "agent"}]}`, for a dataset with a
  multi-label question "topics" and a label question "tone".
- `prodigy`: JSONL choice tasks, `{"text", "options": [{"id": "topic:trade", ...},
  {"id": "tone:neutral", ...}], "accept": [the model's choices], "meta"}`, for the `choice`
  interface with multiple choice.

Every format keeps the article id and sentence index, so `stancetag import` can put the labels
back on the right sentence, and the scores (and, from `suggest`, the reason) for the annotator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

ANNOTATION_FORMATS = ("label-studio", "argilla", "prodigy")
TOPICS_QUESTION = "topics"  # the control / question names the tools' projects must use
TONE_QUESTION = "tone"
TEXT_FIELD = "text"
TOPIC_PREFIX = "topic:"
TONE_PREFIX = "tone:"


def label_studio_config(topics: tuple[str, ...], tones: tuple[str, ...]) -> str:
    """The Label Studio labeling config that matches the tasks written here."""
    topic_choices = "\n".join(f'    <Choice value="{t}"/>' for t in topics)
    tone_choices = "\n".join(f'    <Choice value="{t}"/>' for t in tones)
    return (
        "<View>\n"
        f'  <Text name="{TEXT_FIELD}" value="${TEXT_FIELD}"/>\n'
        f'  <Choices name="{TOPICS_QUESTION}" toName="{TEXT_FIELD}" choice="multiple" showInline="true">\n'
        f"{topic_choices}\n  </Choices>\n"
        f'  <Choices name="{TONE_QUESTION}" toName="{TEXT_FIELD}" choice="single-radio" required="true" '
        'showInline="true">\n'
        f"{tone_choices}\n  </Choices>\n"
        "</View>\n"
    )


def _meta(record: dict) -> dict:
    meta = {"article": record["article"], "sentence_index": record["sentence_index"]}
    for key in ("rank", "uncertainty", "reason"):
        if key in record:
            meta[key] = record[key]
    return meta


def label_studio_task(record: dict, model_version: str, confidence: float) -> dict:
    result = []
    if record["topics"]:
        result.append(
            {
                "from_name": TOPICS_QUESTION,
                "to_name": TEXT_FIELD,
                "type": "choices",
                "value": {"choices": list(record["topics"])},
            }
        )
    result.append(
        {"from_name": TONE_QUESTION, "to_name": TEXT_FIELD, "type": "choices", "value": {"choices": [record["tone"]]}}
    )
    data = {TEXT_FIELD: record["text"], **_meta(record)}
    data["topic_scores"] = record["topic_scores"]
    data["tone_scores"] = record["tone_scores"]
    return {"data": data, "predictions": [{"model_version": model_version, "score": confidence, "result": result}]}


def argilla_record(record: dict, model_version: str) -> dict:
    suggestions = []
    if record["topics"]:  # a multi-label suggestion needs at least one label; no suggestion means "none"
        suggestions.append(
            {
                "question_name": TOPICS_QUESTION,
                "value": list(record["topics"]),
                "score": [record["topic_scores"][t] for t in record["topics"]],
                "agent": model_version,
            }
        )
    suggestions.append(
        {
            "question_name": TONE_QUESTION,
            "value": record["tone"],
            "score": record["tone_scores"][record["tone"]],
            "agent": model_version,
        }
    )
    metadata = _meta(record)
    return {
        "id": f"{record['article']}#{record['sentence_index']}",
        "fields": {TEXT_FIELD: record["text"]},
        "metadata": metadata,
        "suggestions": suggestions,
    }


def prodigy_task(record: dict, topics: tuple[str, ...], tones: tuple[str, ...], model_version: str) -> dict:
    options = [{"id": f"{TOPIC_PREFIX}{t}", "text": f"topic: {t}"} for t in topics]
    options += [{"id": f"{TONE_PREFIX}{t}", "text": f"tone: {t}"} for t in tones]
    accept = [f"{TOPIC_PREFIX}{t}" for t in record["topics"]] + [f"{TONE_PREFIX}{record['tone']}"]
    meta = {**_meta(record), "model": model_version}
    meta.update({f"p_{t}": record["topic_scores"][t] for t in topics})
    meta.update({f"p_{t}": record["tone_scores"][t] for t in tones})
    return {"text": record["text"], "options": options, "accept": accept, "meta": meta}


@dataclass
class TaskWriter:
    """Streams prediction records as pre-annotation tasks; `close()` ends a JSON array.

    `confidence(record)` is the model's certainty in [0, 1] (1 minus `suggest`'s uncertainty).
    """

    stream: IO[str]
    fmt: str
    topics: tuple[str, ...]
    tones: tuple[str, ...]
    model_version: str
    confidence: Callable[[dict], float]
    _count: int = 0

    def write(self, record: dict) -> None:
        if self.fmt == "prodigy":
            task = prodigy_task(record, self.topics, self.tones, self.model_version)
            self.stream.write(json.dumps(task, ensure_ascii=False) + "\n")
            self._count += 1
            return
        if self.fmt == "label-studio":
            item = label_studio_task(record, self.model_version, round(self.confidence(record), 4))
        else:
            item = argilla_record(record, self.model_version)
        self.stream.write(("[\n" if self._count == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
        self._count += 1

    def close(self) -> None:
        if self.fmt != "prodigy":
            self.stream.write("[]\n" if self._count == 0 else "\n]\n")


def model_version(folder, meta) -> str:
    """What the tools show as the suggestions' source: the model folder and its training data."""
    fingerprint = (meta.data.get("train") or {}).get("fingerprint")
    name = str(folder).rstrip("/").split("/")[-1] or str(folder)
    return f"stancetag:{name}" + (f"@{fingerprint}" if fingerprint else "")
