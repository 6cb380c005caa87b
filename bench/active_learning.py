"""Simulated labeling: does `suggest --strategy uncertainty` teach a model more per label than random picks?

The pool is a labeled file whose labels are hidden until a sentence is picked (default
seeds/train.jsonl). Each repeat starts from the same small random seed set for every strategy,
then picks `--step` sentences at a time with `stancetag.loop.suggest.choose` (the same filters as
`stancetag suggest`: per-article cap, no near-duplicates), reveals their labels, retrains and,
at each budget (labels added beyond the seed set), scores the learner on the test file. Learning
curves are printed as mean and standard deviation over repeats, with the paired difference.

Learners (`--learner`):
- `tfidf` (default): TF-IDF + logistic regression, the report's baseline; a fast proxy that
  retrains in well under a second, so many repeats fit on a shared 2-core CPU.
- `model`: the stancetag network from `--config` (MiniLM by default), retrained from the base
  model each round with `--epochs` and the config's dev file for early stopping and thresholds.
  Minutes per round on a CPU.

    python bench/active_learning.py                                  # TF-IDF, budgets 100 200 400, 10 repeats
    python bench/active_learning.py --learner model --epochs 3 --repeats 1 --step 100
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stancetag.config import load_config, with_overrides
from stancetag.evaluation.baselines import tfidf_logreg
from stancetag.evaluation.metrics import score
from stancetag.labeled import Example, gold_arrays, load_examples
from stancetag.loop.suggest import STRATEGIES, SuggestOptions, choose

METRICS = ("topic_macro_f1", "topic_micro_f1", "tone_macro_f1", "tone_accuracy")


def tfidf_learner(labeled: list[Example], texts: list[str], config, workdir: Path):
    outputs = tfidf_logreg(labeled, texts, config.labels.topics, config.labels.tones)
    # class_weight="balanced" makes 0.5 a fair cut for every topic (see evaluation.baselines)
    return outputs.topic_probabilities, outputs.tone_probabilities, np.full(len(config.labels.topics), 0.5)


def model_learner(labeled: list[Example], texts: list[str], config, workdir: Path):
    from stancetag.model.torch_backend import TorchPredictor
    from stancetag.training.crossval import write_jsonl
    from stancetag.training.loop import train

    folder = Path(tempfile.mkdtemp(dir=workdir))
    write_jsonl(labeled, folder / "train.jsonl")
    dev = Path(config.data.dev) if config.data.dev else None
    train(config, folder / "train.jsonl", dev, folder / "model", progress=False)
    predictor = TorchPredictor.from_directory(folder / "model")
    scores = predictor.predict_proba(texts)
    cut = np.array([predictor.thresholds[t] for t in config.labels.topics])
    return scores.topic_probabilities, scores.tone_probabilities, cut


LEARNERS = {"tfidf": tfidf_learner, "model": model_learner}


def test_metrics(test: list[Example], topic_p, tone_p, cut, config) -> dict[str, float]:
    topics, tones = config.labels.topics, config.labels.tones
    gold_topics, gold_tones = gold_arrays(test, topics, tones)
    m = score(gold_topics, (topic_p >= cut).astype(int), gold_tones, tone_p.argmax(axis=1), topics, tones)
    return {
        "topic_macro_f1": m["topics"]["macro_f1"],
        "topic_micro_f1": m["topics"]["micro_f1"],
        "tone_macro_f1": m["tone"]["macro_f1"],
        "tone_accuracy": m["tone"]["accuracy"],
    }


def run_curve(strategy, seed_index, pool, test, budgets, step, learner, config, args, repeat, workdir):
    """Scores at each budget for one strategy and one seed set."""
    labeled = list(seed_index)
    remaining = [i for i in range(len(pool)) if i not in set(seed_index)]
    test_texts = [e.text for e in test]
    points = {}
    added = 0
    while True:
        examples = [pool[i] for i in labeled]
        candidates = [pool[i] for i in remaining]
        topic_p, tone_p, cut = learner(examples, [e.text for e in candidates] + test_texts, config, workdir)
        n = len(candidates)
        if added in budgets:
            points[added] = test_metrics(test, topic_p[n:], tone_p[n:], cut, config)
            logging.info("repeat %d %s budget %d: %s", repeat, strategy, added, points[added])
        if added >= max(budgets):
            return points
        options = SuggestOptions(
            count=step,
            strategy=strategy,
            per_article=args.per_article,
            max_similarity=args.max_similarity,
            seed=repeat * 1000 + added,
        )
        picks = choose(
            [e.text for e in candidates],
            [e.article for e in candidates],
            topic_p[:n],
            tone_p[:n],
            cut,
            options,
            config.labels.topics,
            config.labels.tones,
        )
        chosen = {remaining[p.index] for p in picks}
        labeled += sorted(chosen)
        remaining = [i for i in remaining if i not in chosen]
        added += len(chosen)


def summarise(results, budgets, strategies) -> str:
    lines = []
    for metric in METRICS:
        lines.append(f"\n{metric}")
        header = f"{'budget':>7}" + "".join(f"{s:>22}" for s in strategies)
        if len(strategies) == 2:
            header += f"{'difference (paired)':>26}{'repeats better':>16}"
        lines.append(header)
        for b in budgets:
            row = f"{b:>7}"
            values = {s: np.array([r[s][b][metric] for r in results]) for s in strategies}
            for s in strategies:
                sd = values[s].std(ddof=1) if len(values[s]) > 1 else 0.0
                row += f"{values[s].mean():>14.3f} ± {sd:.3f}"
            if len(strategies) == 2:
                d = values[strategies[0]] - values[strategies[1]]
                sd = d.std(ddof=1) if len(d) > 1 else 0.0
                row += f"{d.mean():>+18.3f} ± {sd:.3f}{int((d > 0).sum()):>10d} / {len(d)}"
            lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--pool", default="seeds/train.jsonl", help="labeled file whose labels are revealed on demand")
    parser.add_argument("--test", default="seeds/test.jsonl")
    parser.add_argument("--learner", choices=sorted(LEARNERS), default="tfidf")
    parser.add_argument("--seed-size", type=int, default=50, help="random sentences labeled before the first pick")
    parser.add_argument("--budgets", default="100,200,400", help="labels added beyond the seed set, comma-separated")
    parser.add_argument("--step", type=int, default=50, help="sentences picked per round (retrain after each)")
    parser.add_argument("--repeats", type=int, default=10, help="seed sets (same for every strategy)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--per-article", type=int, default=3)
    parser.add_argument("--max-similarity", type=float, default=0.8)
    parser.add_argument("--epochs", type=int, default=None, help="--learner model: override training.epochs")
    parser.add_argument("--base-model", default=None, help="--learner model: override model.base_model")
    parser.add_argument("--json", type=Path, default=None, help="also write every point here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger().setLevel(logging.INFO if args.learner == "model" else logging.WARNING)

    budgets = [0] + sorted(int(b) for b in args.budgets.split(","))
    if any(b % args.step for b in budgets):
        parser.error(f"every budget must be a multiple of --step {args.step}")
    strategies = [s.strip() for s in args.strategies.split(",")]
    config = load_config(args.config)
    overrides = {"training.epochs": args.epochs, "model.base_model": args.base_model}
    config = with_overrides(config, {k: v for k, v in overrides.items() if v is not None})
    pool = load_examples(args.pool, config.labels)
    test = load_examples(args.test, config.labels)
    if args.seed_size + max(budgets) > len(pool):
        parser.error(f"--seed-size + the largest budget exceed the pool's {len(pool)} sentences")
    learner = LEARNERS[args.learner]
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="stancetag-al-") as tmp:
        for repeat in range(args.repeats):
            seed_index = sorted(np.random.default_rng(repeat).choice(len(pool), args.seed_size, replace=False).tolist())
            results.append(
                {
                    s: run_curve(
                        s, seed_index, pool, test, budgets, args.step, learner, config, args, repeat, Path(tmp)
                    )
                    for s in strategies
                }
            )
    seconds = time.perf_counter() - started
    print(
        f"learner {args.learner}; pool {args.pool} ({len(pool)} sentences); test {args.test} ({len(test)}); "
        f"seed set {args.seed_size} random sentences; {args.step} picked per round (per-article cap "
        f"{args.per_article}, max similarity {args.max_similarity}); {args.repeats} repeats; {seconds:.0f} s"
    )
    print(
        "budget = labels added beyond the seed set; mean ± sample std over repeats; difference = "
        f"{strategies[0]} - {strategies[-1]}, paired by seed set"
    )
    print(summarise(results, budgets, strategies))
    if args.json is not None:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
