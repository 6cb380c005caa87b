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
from stancetag.labeled import Example, load_examples
from stancetag.model.torch_backend import TorchPredictor

log = logging.getLogger(__name__)

TRAIN_FILE = "train.jsonl"


@dataclass
class CrossvalResult:
    folds: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]  # metric -> mean, std

    def to_json(self) -> dict[str, Any]:
        return {"folds": self.folds, "summary": self.summary, "std": "sample standard deviation (ddof=1)"}


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


def _write_jsonl(examples: list[Example], path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for e in examples:
            row = {"text": e.text, "topics": list(e.topics), "tone": e.tone, "article": e.article}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        "topic_micro_f1": metrics["topics"]["micro_f1"],
        "topic_macro_f1": metrics["topics"]["macro_f1"],
        "tone_accuracy": metrics["tone"]["accuracy"],
        "tone_macro_f1": metrics["tone"]["macro_f1"],
    }


def crossval(config: Config, data: Path, folds: int, *, progress: bool = False) -> CrossvalResult:
    """Train and score one model per fold; returns per-fold headline metrics and mean/std."""
    from stancetag.training.loop import train

    examples = load_examples(data, config.labels)
    if not examples:
        raise UserError(f"{data}: no labeled sentences; cross-validation needs labeled data")
    results = []
    with tempfile.TemporaryDirectory(prefix="stancetag-crossval-") as tmp:
        for k, scored_index in enumerate(fold_indices(examples, folds, config.training.seed), start=1):
            scored_set = set(scored_index.tolist())
            scored = [e for i, e in enumerate(examples) if i in scored_set]
            training = [e for i, e in enumerate(examples) if i not in scored_set]
            folder = Path(tmp) / f"fold-{k}"
            folder.mkdir()
            _write_jsonl(training, folder / TRAIN_FILE)
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
                    "sentences": len(scored),
                    "articles": n_articles,
                    "train_sentences": len(training),
                    "best_epoch": trained.best_epoch,
                    **_headline(metrics),
                }
            )
    summary = {}
    for name in HEADLINE:
        values = np.array([r[name] for r in results])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
    return CrossvalResult(results, summary)


def crossval_table(result: CrossvalResult) -> str:
    """Per-fold rows, then mean and standard deviation of each headline metric."""
    names = [HEADLINE_NAMES[n] for n in HEADLINE]
    widths = [max(len(n), 8) for n in names]
    header = f"{'fold':<6}{'sentences':>10}{'articles':>10}  " + "  ".join(
        n.rjust(w) for n, w in zip(names, widths, strict=True)
    )
    lines = [header]
    for r in result.folds:
        cells = "  ".join(f"{r[n]:.3f}".rjust(w) for n, w in zip(HEADLINE, widths, strict=True))
        lines.append(f"{r['fold']:<6}{r['sentences']:>10}{r['articles']:>10}  {cells}")
    for stat in ("mean", "std"):
        cells = "  ".join(f"{result.summary[n][stat]:.3f}".rjust(w) for n, w in zip(HEADLINE, widths, strict=True))
        lines.append(f"{stat:<26}  {cells}")
    lines.append(f"({len(result.folds)} article-grouped folds; std is the sample standard deviation across folds)")
    return "\n".join(lines) + "\n"
