"""Rendering the evaluation report: the terminal table, report.md, errors.csv and the report folder.

The report folder is written into a hidden staging directory beside the destination and renamed
into place at the end, so a crash never leaves a half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from stancetag.evaluation import figures
from stancetag.evaluation.baselines import BASELINES
from stancetag.evaluation.bootstrap import HEADLINE, HEADLINE_NAMES
from stancetag.evaluation.metrics import metrics_table
from stancetag.evaluation.report import Evaluation, MetricsRun
from stancetag.labeled import GROUP_FIELDS
from stancetag.paths import OutputKind, any_of, check_output, holds_files, starts_with_json_keys, starts_with_line
from stancetag.writers import csv_text, publish_directory, staging_directory

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
ERRORS_FILE = "errors.csv"
COMPARED_FOLDERS = ("a", "b")  # per-model files of a comparison go into these subfolders
TEXT_WIDTH = 60


def _interval(row: dict[str, float]) -> str:
    return f"{row['value']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"


def _short(text: str, width: int = TEXT_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _labels(values: list[str]) -> str:
    return ", ".join(values) or "-"


def _mix(counts: dict[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in counts.items() if n) or "-"


def _headline_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]], list[str]]:
    """Column titles, one row per headline metric (model then baselines), and baseline notes."""
    baselines = metrics.get("baselines", {})
    names = [n for n in BASELINES if n in baselines]
    titles = ["metric", "model"] + [baselines[n]["description"] for n in names]
    rows = []
    for key in HEADLINE:
        row = [HEADLINE_NAMES[key], _interval(metrics["intervals"]["metrics"][key])]
        for n in names:
            row.append(_interval(baselines[n]["metrics"][key]) if baselines[n]["available"] else "unavailable")
        rows.append(row)
    notes = [f"baselines: {baselines['training_data']['note']}"] if "training_data" in baselines else []
    overlap = baselines.get("training_data", {}).get("overlap_with_scored")
    if overlap:
        notes.append(f"warning: {overlap} scored sentence(s) are also in the training data")
    return titles, rows, notes


def _operating_point(point: dict[str, float] | None, other: str) -> str:
    if point is None:
        return "-"
    return f"{point['threshold']:.3f} ({other} {point[{'F1': 'f1', 'R': 'recall', 'P': 'precision'}[other]]:.2f})"


def _operating_rows(metrics: dict[str, Any]) -> list[list[str]]:
    rows = []
    for topic, row in metrics["thresholds"]["per_label"].items():
        points = row["operating_points"]
        rows.append(
            [
                topic,
                f"{row['threshold']:.3f}",
                _operating_point(points["best_f1"], "F1"),
                _operating_point(points["high_precision"], "R"),
                _operating_point(points["high_recall"], "P"),
            ]
        )
    return rows


OPERATING_TITLES = ["topic", "stored", "best F1 (F1)", "precision >= 0.90 (recall)", "recall >= 0.90 (precision)"]


def _aligned(titles: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in [titles, *rows]) for i in range(len(titles))]
    return [
        indent + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [titles, *rows]
    ]


def _summary_lines(metrics: dict[str, Any]) -> list[str]:
    """The added sections of the terminal table: intervals with baselines, calibration, etc."""
    iv = metrics["intervals"]
    titles, rows, notes = _headline_rows(metrics)
    lines = [
        "",
        f"headline with {iv['level']:.0%} intervals ({iv['resamples']} bootstrap resamples of {iv['articles']} "
        f"articles, seed {iv['seed']}) and baselines",
        *_aligned(titles, rows),
        *(f"  {n}" for n in notes),
        "",
        f"calibration (expected calibration error, {metrics['calibration']['bins']} bins): "
        f"topics {metrics['calibration']['topics']['ece']:.3f}, tone {metrics['calibration']['tone']['ece']:.3f}",
        "",
        "topic operating points (apply one with: stancetag predict --threshold LABEL=VALUE)",
        *_aligned(OPERATING_TITLES, _operating_rows(metrics)),
    ]
    for field, group_titles, group_rows in _groups(metrics):
        lines += ["", f"by {field} (sentences that record one)", *_aligned(group_titles, group_rows)]
    art = metrics["articles"]
    lines += [
        "",
        f"articles: {art['n']}; article-level topic micro F1 {art['topic_micro_f1']:.3f}, macro F1 "
        f"{art['topic_macro_f1']:.3f}; dominant tone right in {art['dominant_tone_accuracy']:.0%} of articles",
    ]
    errors = metrics["errors"]
    shown = errors["most_confident"]
    total = errors["sentences_with_mistakes"]
    lines += ["", f"most confident mistakes ({len(shown)} of {total} sentences with one)" if total else "no mistakes"]
    for e in shown:
        lines.append(
            f"  {e['rank']:>3}  {e['confidence']:.2f}  {_short(e['text'], 50):<50}  gold {_labels(e['gold_topics'])} / "
            f"{e['gold_tone']}  predicted {_labels(e['predicted_topics'])} / {e['predicted_tone']}"
        )
    return lines


GROUP_TITLES = ["sentences", "articles", *(HEADLINE_NAMES[k] for k in HEADLINE)]


def _groups(metrics: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(field, titles, rows) of each per-register and per-era breakdown the metrics hold."""
    return [
        (
            field,
            [field, *GROUP_TITLES],
            [
                [name, str(row["n"]), str(row["articles"]), *(f"{row[k]:.3f}" for k in HEADLINE)]
                for name, row in metrics[f"by_{field}"].items()
            ],
        )
        for field in GROUP_FIELDS
        if f"by_{field}" in metrics
    ]


def _comparison_rows(comparison: dict[str, Any]) -> list[list[str]]:
    """metric, A, B, B - A, interval, sign flips: one row per headline metric."""
    return [
        [HEADLINE_NAMES[key], f"{m['a']:.3f}", f"{m['b']:.3f}", f"{m['difference']:+.3f}"]
        + [f"[{m['low']:+.3f}, {m['high']:+.3f}]", f"{m['sign_flip_share']:.3f}"]
        for key, m in ((key, comparison["metrics"][key]) for key in HEADLINE)
    ]


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    rows = [
        [*row[:3], row[3] + (" *" if comparison["metrics"][key]["significant"] else ""), *row[4:]]
        for key, row in zip(HEADLINE, _comparison_rows(comparison), strict=True)
    ]
    return [
        f"comparison: B minus A, paired bootstrap over articles ({comparison['resamples']} resamples, "
        f"seed {comparison['seed']})",
        f"  A = {comparison['a']}",
        f"  B = {comparison['b']}",
        *_aligned(["metric", "A", "B", "B - A", f"{comparison['level']:.0%} interval", "sign flips"], rows),
        "  *: the interval excludes zero; sign flips: share of resamples where B - A is zero or reversed",
    ]


def terminal_table(run: MetricsRun) -> str:
    """The table `stancetag metrics` prints: the original per-label table, then the additions."""
    if run.comparison is None:
        metrics = run.evaluations[0].metrics
        return metrics_table(metrics) + "\n".join(_summary_lines(metrics)) + "\n"
    lines = comparison_lines(run.comparison)
    for label, evaluation in zip("AB", run.evaluations, strict=True):
        lines += ["", f"== {label}: {evaluation.name}", *metrics_table(evaluation.metrics).rstrip("\n").split("\n")]
        lines += _summary_lines(evaluation.metrics)
    return "\n".join(lines) + "\n"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(titles: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(t) for t in titles) + " |", "|" + "---|" * len(titles)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


ARTICLE_TITLES = ["article", "sentences", "gold topics", "predicted topics", "gold tones", "predicted tones"]
ERROR_TITLES = ["#", "confidence", "mistake", "sentence", "gold", "predicted"]


def _article_row(a: dict[str, Any]) -> list[Any]:
    return [a["article"], a["sentences"], _labels(a["gold_topics"]), _labels(a["predicted_topics"])] + [
        _mix(a["gold_tones"]),
        _mix(a["predicted_tones"]),
    ]


def _error_row(e: dict[str, Any]) -> list[Any]:
    gold = f"{_labels(e['gold_topics'])} / {e['gold_tone']}"
    return [e["rank"], f"{e['confidence']:.2f}", e["mistake"], e["text"], gold, _predicted(e)]


def _predicted(e: dict[str, Any]) -> str:
    return f"{_labels(e['predicted_topics'])} / {e['predicted_tone']}"


def model_markdown(metrics: dict[str, Any], prefix: str = "", level: str = "##") -> list[str]:
    """report.md sections for one model; `prefix` is the folder of its figures and errors.csv."""
    iv = metrics["intervals"]
    titles, rows, notes = _headline_rows(metrics)
    lines = [
        f"{level} Headline metrics with baselines",
        "",
        f"Sentences: {metrics['n']} from {iv['articles']} articles. Brackets: {iv['level']:.0%} intervals from "
        f"{iv['resamples']} bootstrap resamples of articles (seed {iv['seed']}).",
        "",
        *_md_table(titles, rows),
        *(f"- {n}" for n in notes),
        "",
    ]
    for field, group_titles, group_rows in _groups(metrics):
        lines += [f"{level} Scores by {field}", "", *_md_table(group_titles, group_rows), ""]
    lines += [
        f"{level} Topics at the stored thresholds",
        "",
    ]
    tfidf = metrics.get("baselines", {}).get("tfidf_logreg", {})
    topic_rows = []
    for topic, row in metrics["topics"]["per_label"].items():
        cells = [topic, f"{metrics['thresholds']['per_label'][topic]['threshold']:.3f}", f"{row['precision']:.3f}"]
        cells += [f"{row['recall']:.3f}", f"{row['f1']:.3f}", row["support"]]
        cells.append(f"{tfidf['topic_f1'][topic]:.3f}" if tfidf.get("available") else "-")
        topic_rows.append(cells)
    lines += _md_table(["topic", "threshold", "precision", "recall", "F1", "support", "TF-IDF + LR F1"], topic_rows)
    lines += [
        f"Micro F1 {metrics['topics']['micro_f1']:.3f}, macro F1 {metrics['topics']['macro_f1']:.3f}.",
        "",
        f"![Topic precision-recall curves]({prefix}{figures.PRECISION_RECALL_FIGURE})",
        "",
        f"{level} Threshold sweep and operating points",
        "",
        "Apply a threshold with `stancetag predict --threshold LABEL=VALUE`.",
        "",
        *_md_table(OPERATING_TITLES, _operating_rows(metrics)),
    ]
    per_label = metrics["thresholds"]["per_label"]
    sweep_rows = []
    for k, point in enumerate(next(iter(per_label.values()))["sweep"]):
        if abs(point["threshold"] * 10 - round(point["threshold"] * 10)) < 1e-9:  # a readable 0.1 grid
            cells = [f"{point['threshold']:.1f}"]
            for row in per_label.values():
                p = row["sweep"][k]
                cells.append(f"{p['precision']:.2f} / {p['recall']:.2f} / {p['f1']:.2f}")
            sweep_rows.append(cells)
    lines += ["Precision / recall / F1 by threshold (every step of 0.025 is in metrics.json):", ""]
    lines += _md_table(["threshold", *per_label], sweep_rows)
    tone = metrics["tone"]
    lines += [f"{level} Tone", ""]
    lines += _md_table(
        ["tone", "precision", "recall", "F1", "support"],
        [
            [t, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", r["support"]]
            for t, r in tone["per_label"].items()
        ],
    )
    lines += [
        f"Accuracy {tone['accuracy']:.3f}, macro F1 {tone['macro_f1']:.3f}.",
        "",
        f"![Tone confusion matrix]({prefix}{figures.CONFUSION_FIGURE})",
        "",
    ]
    cal = metrics["calibration"]
    lines += [
        f"{level} Calibration",
        "",
        f"Expected calibration error ({cal['bins']} equal-width bins): topic probabilities "
        f"{cal['topics']['ece']:.3f} (every sentence-topic pair), tone confidence {cal['tone']['ece']:.3f}.",
        "",
        f"![Reliability diagrams]({prefix}{figures.RELIABILITY_FIGURE})",
        "",
    ]
    art = metrics["articles"]
    errors = metrics["errors"]
    lines += [
        f"{level} Articles",
        "",
        f"Article-level topics (a topic is on if any sentence has it): micro F1 {art['topic_micro_f1']:.3f}, macro "
        f"F1 {art['topic_macro_f1']:.3f}. Dominant tone right in {art['dominant_tone_accuracy']:.0%} of articles.",
        "",
        *_md_table(ARTICLE_TITLES, [_article_row(a) for a in art["per_article"]]),
        f"{level} Most confident mistakes",
        "",
        f"{len(errors['most_confident'])} of {errors['sentences_with_mistakes']} sentences with a mistake; "
        f"all scores in [{ERRORS_FILE}]({prefix}{ERRORS_FILE}).",
        "",
        *_md_table(ERROR_TITLES, [_error_row(e) for e in errors["most_confident"]]),
    ]
    return lines


def report_markdown(run: MetricsRun) -> str:
    if run.comparison is None:
        metrics = run.evaluations[0].metrics
        lines = [f"# stancetag evaluation: {metrics['model']} on {run.data}", "", *model_markdown(metrics)]
        return "\n".join(lines).rstrip("\n") + "\n"
    c = run.comparison
    lines = [f"# stancetag comparison on {run.data}", "", f"A = `{c['a']}`, B = `{c['b']}`.", ""]
    rows = [
        [*row, "yes" if c["metrics"][key]["significant"] else "no"]
        for key, row in zip(HEADLINE, _comparison_rows(c), strict=True)
    ]
    lines += _md_table(
        ["metric", "A", "B", "B - A", f"{c['level']:.0%} interval", "sign flips", "interval excludes 0"], rows
    )
    lines += [
        f"Paired bootstrap over articles: {c['resamples']} resamples (seed {c['seed']}); both models are scored on "
        "the same resampled articles. Sign flips: the share of resamples where B - A is zero or reversed.",
        "",
    ]
    for label, folder, evaluation in zip("AB", COMPARED_FOLDERS, run.evaluations, strict=True):
        lines += [f"## {label}: {evaluation.name}", "", *model_markdown(evaluation.metrics, f"{folder}/", "###")]
    return "\n".join(lines).rstrip("\n") + "\n"


def errors_csv(evaluation: Evaluation) -> str:
    header = ["rank", "article", "line", "text", "mistake", "confidence", "gold_topics", "predicted_topics"]
    header += ["gold_tone", "predicted_tone"] + [f"topic_score_{t}" for t in evaluation.topics]
    header += [f"tone_score_{t}" for t in evaluation.tones]
    rows: list[list[Any]] = [header]
    for e in evaluation.metrics["errors"]["most_confident"]:
        rows.append(
            [e["rank"], e["article"], e["line"], e["text"], e["mistake"], e["confidence"]]
            + [";".join(e["gold_topics"]), ";".join(e["predicted_topics"]), e["gold_tone"], e["predicted_tone"]]
            + [e["topic_scores"][t] for t in evaluation.topics]
            + [e["tone_scores"][t] for t in evaluation.tones]
        )
    return csv_text(rows)


def _write_model_files(evaluation: Evaluation, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ERRORS_FILE).write_text(errors_csv(evaluation), encoding="utf-8", newline="")
    thresholds = {t: row["threshold"] for t, row in evaluation.metrics["thresholds"]["per_label"].items()}
    figures.write_figures(
        evaluation.metrics,
        evaluation.gold.topics,
        evaluation.outputs.topic_probabilities,
        evaluation.topics,
        thresholds,
        folder,
    )


REPORT_FOLDER = OutputKind("report folder", folder=True, is_own=holds_files(REPORT_FILE, METRICS_FILE))
# `metrics --output`: the JSON report, or the terminal table (which starts with the sentence count)
METRICS_OUTPUT = OutputKind(
    "metrics report", folder=False, is_own=any_of(starts_with_json_keys("data"), starts_with_line("sentences: "))
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_report(run: MetricsRun, destination: Path, *, force: bool = False) -> list[str]:
    """Write metrics.json, report.md, errors.csv and the figures; returns the files written.

    `destination` must be new, empty or an earlier report (`force`: anything else, replaced after success).
    """
    check_output(destination, REPORT_FOLDER, option="--output-dir", force=force)
    staging = staging_directory(destination)
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; a report is an ordinary folder
        (staging / METRICS_FILE).write_text(
            json.dumps(run.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staging / REPORT_FILE).write_text(report_markdown(run), encoding="utf-8")
        if run.comparison is None:
            _write_model_files(run.evaluations[0], staging)
        else:
            for folder, evaluation in zip(COMPARED_FOLDERS, run.evaluations, strict=True):
                _write_model_files(evaluation, staging / folder)
        written = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        publish_directory(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written
