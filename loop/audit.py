"""Likely label errors in a labeled file, ranked for a second look.

Every sentence gets probabilities from a model that never saw it (out-of-fold, article-grouped
folds, so sentences of one article never inform each other), and cleanlab's confident-learning
methods compare those probabilities with the given labels: `find_multilabel_issues_per_class`
for the topics (which topic looks wrong, so the suggestion flips exactly that topic) and
`find_label_issues` for the tone. Flagged sentences are ranked by cleanlab's label quality score
(lowest first) with the given and the suggested labels.

Out-of-fold probabilities come from the stancetag model trained per fold (the honest choice, one
training per fold) or, with `quick`, from TF-IDF + logistic regression (seconds on a CPU, but a
weaker model: it flags more sentences whose wording it simply cannot read).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stancetag.config import Config
from stancetag.errors import UserError
from stancetag.evaluation.baselines import tfidf_logreg
from stancetag.labeled import Example, check_label_coverage, gold_arrays, load_examples
from stancetag.training.crossval import fold_indices, write_jsonl
from stancetag.writers import csv_text, terminal_safe_text

log = logging.getLogger(__name__)

METHODS = {
    "quick": "TF-IDF + logistic regression, out of fold",
    "model": "the stancetag model trained per fold, out of fold",
}


@dataclass
class AuditResult:
    data: str
    method: str
    folds: int
    n: int
    issues: list[dict[str, Any]]

    def counts(self) -> dict[str, Any]:
        topic = [i for i in self.issues if "topics" in i["flagged"]]
        return {
            "sentences": self.n,
            "flagged": len(self.issues),
            "topic_issues": len(topic),
            "tone_issues": sum("tone" in i["flagged"] for i in self.issues),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "method": METHODS[self.method],
            "folds": self.folds,
            "counts": self.counts(),
            "issues": self.issues,
        }


def _quick_fold(train: list[Example], scored: list[Example], topics, tones) -> tuple[np.ndarray, np.ndarray]:
    outputs = tfidf_logreg(train, [e.text for e in scored], topics, tones)
    return outputs.topic_probabilities, outputs.tone_probabilities


def _model_fold(config: Config, train: list[Example], scored: list[Example], folder: Path, progress: bool):
    from stancetag.model.torch_backend import TorchPredictor
    from stancetag.training.loop import train as run_training

    folder.mkdir()
    write_jsonl(train, folder / "train.jsonl")
    run_training(config, folder / "train.jsonl", None, folder / "model", progress=progress)
    scores = TorchPredictor.from_directory(folder / "model").predict_proba([e.text for e in scored])
    return scores.topic_probabilities, scores.tone_probabilities


def out_of_fold(
    config: Config, examples: list[Example], folds: int, *, quick: bool, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(topic probabilities, tone probabilities) of every example from a model that never saw its article."""
    topics, tones = config.labels.topics, config.labels.tones
    topic_p = np.zeros((len(examples), len(topics)))
    tone_p = np.zeros((len(examples), len(tones)))
    plan = fold_indices(examples, folds, config.training.seed)
    with tempfile.TemporaryDirectory(prefix="stancetag-audit-") as tmp:
        for k, scored_index in enumerate(plan, start=1):
            scored_set = set(scored_index.tolist())
            scored = [examples[i] for i in scored_index]
            train = [e for i, e in enumerate(examples) if i not in scored_set]
            log.info("fold %d/%d: %d sentences out of fold", k, len(plan), len(scored))
            try:
                check_label_coverage(train, config.labels, f"fold {k} of {len(plan)} (the other folds)")
                if quick:
                    fold_topic, fold_tone = _quick_fold(train, scored, topics, tones)
                else:
                    fold_topic, fold_tone = _model_fold(config, train, scored, Path(tmp) / f"fold-{k}", progress)
            except UserError as err:
                raise UserError(f"{examples[0].source}: {err}; use fewer --folds or add sentences") from err
            topic_p[scored_index] = fold_topic
            tone_p[scored_index] = fold_tone
    return topic_p, tone_p


def find_issues(
    examples: list[Example], topic_p: np.ndarray, tone_p: np.ndarray, topics: tuple[str, ...], tones: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Flagged examples, most likely wrong first, with given and suggested labels."""
    from cleanlab.filter import find_label_issues
    from cleanlab.multilabel_classification import get_label_quality_scores as multilabel_quality
    from cleanlab.multilabel_classification.filter import find_multilabel_issues_per_class
    from cleanlab.rank import get_label_quality_scores

    gold_topics, gold_tones = gold_arrays(examples, topics, tones)
    topic_labels = [[int(j) for j in np.flatnonzero(row)] for row in gold_topics]
    with warnings.catch_warnings():  # cleanlab warns about classes with few examples; the counts are in the report
        warnings.simplefilter("ignore")
        per_topic = np.asarray(find_multilabel_issues_per_class(labels=topic_labels, pred_probs=topic_p))
        topic_quality = multilabel_quality(topic_labels, topic_p)
        tone_flag = find_label_issues(labels=gold_tones, pred_probs=tone_p)
        tone_quality = get_label_quality_scores(gold_tones, tone_p)
    issues = []
    for i, e in enumerate(examples):
        flagged = [name for name, on in (("topics", per_topic[i].any()), ("tone", tone_flag[i])) if on]
        if not flagged:
            continue
        suggested_topics = [t for j, t in enumerate(topics) if bool(gold_topics[i, j]) != bool(per_topic[i, j])]
        quality = min(
            float(topic_quality[i]) if "topics" in flagged else 1.0,
            float(tone_quality[i]) if "tone" in flagged else 1.0,
        )
        issues.append(
            {
                "line": e.line,
                "article": e.article,
                "text": e.text,
                "flagged": flagged,
                "given_topics": list(e.topics),
                "suggested_topics": suggested_topics,
                "given_tone": e.tone,
                "suggested_tone": tones[int(tone_p[i].argmax())] if "tone" in flagged else e.tone,
                "label_quality": round(quality, 4),
                "topic_probabilities": {t: round(float(topic_p[i, j]), 3) for j, t in enumerate(topics)},
                "tone_probabilities": {t: round(float(tone_p[i, j]), 3) for j, t in enumerate(tones)},
            }
        )
    issues.sort(key=lambda r: (r["label_quality"], r["line"]))
    for rank, issue in enumerate(issues, start=1):
        issue["rank"] = rank
    return issues


def audit(config: Config, data: Path, *, folds: int, quick: bool, progress: bool = False) -> AuditResult:
    """Out-of-fold probabilities for every sentence of `data`, then cleanlab's label issues."""
    examples = load_examples(data, config.labels)
    check_label_coverage(examples, config.labels, str(data))
    topic_p, tone_p = out_of_fold(config, examples, folds, quick=quick, progress=progress)
    issues = find_issues(examples, topic_p, tone_p, config.labels.topics, config.labels.tones)
    return AuditResult(str(data), "quick" if quick else "model", folds, len(examples), issues)


def _labels(topics: list[str], tone: str) -> str:
    return f"{','.join(topics) or '-'} / {tone}"


def audit_table(result: AuditResult, top: int | None) -> str:
    c = result.counts()
    lines = [
        f"{c['flagged']} of {c['sentences']} sentences flagged ({c['topic_issues']} topic, {c['tone_issues']} tone); "
        f"{METHODS[result.method]}, {result.folds} article-grouped folds",
        f"{'rank':>4}  {'line':>5}  {'quality':>7}  {'given':<34}  {'suggested':<34}  sentence",
    ]
    for issue, given, suggested in _given_and_suggested(result, top):
        text = terminal_safe_text(issue["text"])  # a sentence must not repaint the terminal
        text = text if len(text) <= 70 else text[:67] + "..."
        lines.append(
            f"{issue['rank']:>4}  {issue['line']:>5}  {issue['label_quality']:>7.3f}  "
            f"{given:<34}  {suggested:<34}  {text}"
        )
    return "\n".join(lines) + "\n"


def _given_and_suggested(result: AuditResult, top: int | None) -> list[tuple[dict, str, str]]:
    """Each shown issue with its given and suggested labels as text."""
    return [
        (i, _labels(i["given_topics"], i["given_tone"]), _labels(i["suggested_topics"], i["suggested_tone"]))
        for i in result.issues[:top]
    ]


def audit_markdown(result: AuditResult, top: int | None) -> str:
    """A review sheet: one row per flagged sentence, with a column for the adjudicator's verdict."""
    c = result.counts()
    lines = [
        f"{c['flagged']} of {c['sentences']} sentences of `{result.data}` flagged ({c['topic_issues']} topic, "
        f"{c['tone_issues']} tone issues); probabilities: {METHODS[result.method]}, {result.folds} article-grouped "
        "folds; cleanlab label quality, lowest first.",
        "",
        "| rank | line | article | sentence | given | suggested | quality | verdict |",
        "| ---: | ---: | --- | --- | --- | --- | ---: | --- |",
    ]
    for issue, given, suggested in _given_and_suggested(result, top):
        text = terminal_safe_text(issue["text"]).replace("|", "\\|")
        article = terminal_safe_text(str(issue["article"])).replace("|", "\\|")
        lines.append(
            f"| {issue['rank']} | {issue['line']} | {article} | {text} | {given} | {suggested} | "
            f"{issue['label_quality']:.3f} | |"
        )
    return "\n".join(lines) + "\n"


def audit_csv(result: AuditResult, top: int | None) -> str:
    header = ["rank", "line", "article", "text", "flagged", "given_topics", "given_tone"]
    header += ["suggested_topics", "suggested_tone", "label_quality"]
    rows = [header]
    for i in result.issues[:top]:
        rows.append(
            [i["rank"], i["line"], i["article"], i["text"], ";".join(i["flagged"]), ";".join(i["given_topics"])]
            + [i["given_tone"], ";".join(i["suggested_topics"]), i["suggested_tone"], i["label_quality"]]
        )
    return csv_text(rows)
