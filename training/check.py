"""`stancetag check`: every data validation of training, without training, and a summary."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

from stancetag.config import LabelsConfig
from stancetag.labeled import Example, find_leaks, load_examples
from stancetag.readers import iter_labeled_rows


def summarize(examples: list[Example], rows: int, labels: LabelsConfig) -> dict[str, Any]:
    topics = Counter(t for e in examples for t in e.topics)
    return {
        "rows": rows,
        "sentences": len(examples),
        "duplicates_skipped": rows - len(examples),
        "articles": len({e.article for e in examples}),
        "topics": {t: topics[t] for t in labels.topics},
        "no_topic": sum(not e.topics for e in examples),
        "two_or_more_topics": sum(len(e.topics) >= 2 for e in examples),
        "tones": {t: sum(e.tone == t for e in examples) for t in labels.tones},
        "labels_without_examples": [t for t in labels.topics if not topics[t]]
        + [t for t in labels.tones if not any(e.tone == t for e in examples)],
    }


def check_files(paths: list[Path], labels: LabelsConfig) -> dict[str, Any]:
    """Validate each file (raises UserError on the first bad row) and look for leaks between files."""
    loaded: dict[str, list[Example]] = {}
    files = {}
    for path in paths:
        examples = load_examples(path, labels)
        rows = sum(1 for _ in iter_labeled_rows(path, ("text", "topics", "tone")))
        loaded[str(path)] = examples
        files[str(path)] = summarize(examples, rows, labels)
    leaks = []
    for (a, ea), (b, eb) in itertools.combinations(loaded.items(), 2):
        found = find_leaks(ea, eb)
        if found:
            first_a, first_b = found[0]
            leaks.append(
                {"files": [a, b], "sentences": len(found), "example": f"{a}:{first_a.line} = {b}:{first_b.line}"}
            )
    return {"files": files, "leaks": leaks}


def check_table(report: dict[str, Any]) -> str:
    lines = []
    for path, s in report["files"].items():
        lines.append(
            f"{path}: {s['sentences']} sentences in {s['articles']} articles ({s['rows']} rows, "
            f"{s['duplicates_skipped']} exact duplicates skipped)"
        )
        lines.append(
            "  topics: "
            + ", ".join(f"{t} {n}" for t, n in s["topics"].items())
            + f"; none {s['no_topic']}; two or more {s['two_or_more_topics']}"
        )
        lines.append("  tones:  " + ", ".join(f"{t} {n}" for t, n in s["tones"].items()))
        if s["labels_without_examples"]:
            lines.append(f"  warning: no example of {', '.join(s['labels_without_examples'])}")
    for leak in report["leaks"]:
        lines.append(
            f"warning: {leak['sentences']} sentence(s) appear in both {leak['files'][0]} and "
            f"{leak['files'][1]} (e.g. {leak['example']}): leakage between splits"
        )
    if not report["leaks"] and len(report["files"]) > 1:
        lines.append("no sentence appears in more than one file")
    return "\n".join(lines) + "\n"
