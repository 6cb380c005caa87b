"""Article-grouped k-fold cross-validation: the honest estimate for a small labeled corpus.

Each fold's articles are scored by a model that never saw them: the model trains on the other
folds, from which `training.loop.train` holds out its own dev articles (for early stopping and
threshold tuning), so the scored fold is touched by nothing but the final scoring.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from stancetag.config import Config
from stancetag.errors import UserError
from stancetag.evaluation.bootstrap import HEADLINE, HEADLINE_NAMES
from stancetag.evaluation.metrics import evaluate_predictor
from stancetag.labeled import GROUP_FIELDS, Example, load_examples
from stancetag.model.torch_backend import TorchPredictor

log = logging.getLogger(__name__)

TRAIN_FILE = "train.jsonl"


@dataclass
class CrossvalResult:
    folds: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]  # metric -> mean, std
    by: str | None = None  # "register" for leave-one-register-out; None for article-grouped folds

    def to_json(self) -> dict[str, Any]:
        out = {"folds": self.folds, "summary": self.summary, "std": "sample standard deviation (ddof=1)"}
        if self.by is not None:
            out["by"] = self.by
        return out


def fold_indices(examples: list[Example], folds: int, seed: int) -> list[np.ndarray]:
    """Indices of the scored sentences of each fold; an article is always in one fold only."""
    articles = [e.article for e in examples]
    n_articles = len(set(articles))
    if folds < 2:
        raise UserError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if n_articles < folds + 1:
        raise UserError(
            f"{examples[0].source}: {n_articles} article(s) cannot fill {folds} folds and leave dev articles "
            f"to train with; use --folds {max(2, n_articles - 1)} or fewer, or add `article` ids"
        )
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(examples)), groups=articles)]


def group_indices(examples: list[Example], field: str) -> list[tuple[str, np.ndarray]]:
    """(value, indices) per value of `field`: each fold scores one register (or era) and trains on the
    others. Sentences that record no value are never scored, only trained on."""
    if field not in GROUP_FIELDS:
        raise UserError(f"--by {field!r}: choose one of {', '.join(GROUP_FIELDS)}")
    values = [e.group(field) for e in examples]
    names = sorted({v for v in values if v is not None})
    if len(names) < 2:
        raise UserError(
            f"{examples[0].source}: --by {field} needs sentences of at least 2 {field}s, found {len(names)}; "
            f'record a "{field}" on each row, or drop --by'
        )
    return [(name, np.array([i for i, v in enumerate(values) if v == name])) for name in names]


def write_jsonl(examples: list[Example], path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for e in examples:
            row = {"text": e.text, "topics": list(e.topics), "tone": e.tone, "article": e.article}
            row.update({field: e.group(field) for field in GROUP_FIELDS if e.group(field) is not None})
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        "topic_micro_f1": metrics["topics"]["micro_f1"],
        "topic_macro_f1": metrics["topics"]["macro_f1"],
        "tone_accuracy": metrics["tone"]["accuracy"],
        "tone_macro_f1": metrics["tone"]["macro_f1"],
    }


def crossval(
    config: Config, data: Path, folds: int, *, by: str | None = None, progress: bool = False
) -> CrossvalResult:
    """Train and score one model per fold; returns per-fold headline metrics and mean/std.

    With `by="register"` the folds are the registers: each model is trained without one register
    and scored on it (leave-one-register-out), which measures how the model carries to a voice it
    has not read. `folds` is then ignored.
    """
    from stancetag.training.loop import train

    examples = load_examples(data, config.labels)
    if not examples:
        raise UserError(f"{data}: no labeled sentences; cross-validation needs labeled data")
    results = []
    with tempfile.TemporaryDirectory(prefix="stancetag-crossval-") as tmp:
        if by is None:
            plan = [(None, index) for index in fold_indices(examples, folds, config.training.seed)]
        else:
            plan = group_indices(examples, by)
        folds = len(plan)
        for k, (held_out, scored_index) in enumerate(plan, start=1):
            scored_set = set(scored_index.tolist())
            scored = [e for i, e in enumerate(examples) if i in scored_set]
            training = [e for i, e in enumerate(examples) if i not in scored_set]
            folder = Path(tmp) / f"fold-{k}"
            folder.mkdir()
            write_jsonl(training, folder / TRAIN_FILE)
            n_articles = len({e.article for e in scored})
            log.info(
                "fold %d/%d: training on %d sentences, scoring %d (%d articles)",
                k,
                folds,
                len(training),
                len(scored),
                n_articles,
            )
            try:
                trained = train(config, folder / TRAIN_FILE, None, folder / "model", progress=progress)
            except UserError as err:
                raise UserError(f"fold {k} of {folds} (the other folds' sentences of {data}): {err}") from err
            metrics = evaluate_predictor(TorchPredictor.from_directory(folder / "model"), scored)
            results.append(
                {
                    "fold": k,
                    **({"held_out": held_out} if by is not None else {}),
                    "sentences": len(scored),
                    "articles": n_articles,
                    "train_sentences": len(training),
                    "best_epoch": trained.best_epoch,
                    **_headline(metrics),
                }
            )
            scores = ", ".join(f"{HEADLINE_NAMES[name]} {results[-1][name]:.3f}" for name in HEADLINE)
            log.info("fold %d/%d%s: %s", k, folds, f" ({by} {held_out})" if by else "", scores)
    summary = {}
    for name in HEADLINE:
        values = np.array([r[name] for r in results])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
    return CrossvalResult(results, summary, by)


def crossval_table(result: CrossvalResult) -> str:
    """Per-fold rows, then mean and standard deviation of each headline metric."""
    names = [HEADLINE_NAMES[n] for n in HEADLINE]
    widths = [max(len(n), 8) for n in names]
    header = f"{'fold':<6}{'sentences':>10}{'articles':>10}  " + "  ".join(
        n.rjust(w) for n, w in zip(names, widths, strict=True)
    )
    if result.by is not None:
        header = f"{result.by[:14]:<16}" + header[6:]
    lines = [header]
    for r in result.folds:
        cells = "  ".join(f"{r[n]:.3f}".rjust(w) for n, w in zip(HEADLINE, widths, strict=True))
        name = f"{r['fold']:<6}" if result.by is None else f"{r['held_out'][:14]:<16}"
        lines.append(f"{name}{r['sentences']:>10}{r['articles']:>10}  {cells}")
    for stat in ("mean", "std"):
        cells = "  ".join(f"{result.summary[n][stat]:.3f}".rjust(w) for n, w in zip(HEADLINE, widths, strict=True))
        lines.append(f"{stat:<{len(name) + 20}}  {cells}")
    if result.by is None:
        lines.append(f"({len(result.folds)} article-grouped folds; std is the sample standard deviation across folds)")
    else:
        lines.append(
            f"(leave-one-{result.by}-out: each row is a model trained without that {result.by} and scored on it; "
            "std is the sample standard deviation across rows)"
        )
    return "\n".join(lines) + "\n"
