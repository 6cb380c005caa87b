"""What a register costs when the model has never read it: scores on the test split's sentences of
one register, from a model trained on every register and from one trained without it, side by side.

    .venv/bin/python bench/register_shift.py --registers opinion markets interview [--epochs 1]
    .venv/bin/python bench/register_shift.py --tfidf-only          # every register, seconds

For each register R: TF-IDF + logistic regression and the configured model (`--config`, default
configs/default.yaml) are trained once on seeds/train.jsonl + dev.jsonl as they are ("seen") and
once with every sentence of R removed from both ("unseen"), then scored on the sentences of R in
seeds/test.jsonl (articles neither model trained on). The drop from seen to unseen is the
register-shift penalty; `stancetag crossval --by register` gives the leave-one-register-out
scores on the training file itself. Quote the figures with the epochs and the machine they came from.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from stancetag.config import load_config, with_overrides
from stancetag.evaluation.baselines import tfidf_logreg
from stancetag.evaluation.metrics import evaluate_predictor, score
from stancetag.labeled import Example, gold_arrays, load_examples
from stancetag.model.torch_backend import TorchPredictor
from stancetag.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
COLUMNS = ("topic_micro_f1", "tone_macro_f1", "tone_accuracy")


def headline(metrics: dict) -> dict[str, float]:
    return {
        "topic_micro_f1": metrics["topics"]["micro_f1"],
        "tone_macro_f1": metrics["tone"]["macro_f1"],
        "tone_accuracy": metrics["tone"]["accuracy"],
    }


def write_jsonl(examples: list[Example], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for e in examples:
            row = {"text": e.text, "topics": list(e.topics), "tone": e.tone, "article": e.article}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def tfidf_scores(train_examples: list[Example], scored: list[Example], topics, tones) -> dict[str, float]:
    outputs = tfidf_logreg(train_examples, [e.text for e in scored], topics, tones)
    gold_topics, gold_tones = gold_arrays(scored, topics, tones)
    return headline(
        score(gold_topics, outputs.topic_predictions.astype(int), gold_tones, outputs.tone_predictions, topics, tones)
    )


def model_scores(config, train_examples, dev_examples, scored, folder: Path) -> tuple[dict[str, float], float]:
    folder.mkdir(parents=True)
    started = time.perf_counter()
    train(
        config,
        write_jsonl(train_examples, folder / "train.jsonl"),
        write_jsonl(dev_examples, folder / "dev.jsonl"),
        folder / "model",
        progress=False,
    )
    seconds = time.perf_counter() - started
    return headline(evaluate_predictor(TorchPredictor.from_directory(folder / "model"), scored)), seconds


def row(name: str, register: str, seen: dict[str, float], unseen: dict[str, float], n: int) -> str:
    cells = [f"{seen[c]:.3f} -> {unseen[c]:.3f} ({unseen[c] - seen[c]:+.3f})" for c in COLUMNS]
    return f"| {register} | {n} | {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml")
    parser.add_argument("--registers", nargs="*", help="registers to hold out (default: every one)")
    parser.add_argument("--epochs", type=int, help="override training.epochs for the model runs")
    parser.add_argument("--tfidf-only", action="store_true", help="only the TF-IDF baseline (seconds)")
    args = parser.parse_args()

    config = load_config(args.config)
    if args.epochs is not None:
        config = with_overrides(config, {"training.epochs": args.epochs})
    topics, tones = config.labels.topics, config.labels.tones
    train_all = load_examples(SEEDS / "train.jsonl", config.labels)
    dev_all = load_examples(SEEDS / "dev.jsonl", config.labels)
    test = load_examples(SEEDS / "test.jsonl", config.labels)
    registers = args.registers or sorted({e.register for e in test if e.register})

    lines = [
        f"# register shift: seen -> unseen (change); model {config.model.base_model}, "
        f"{config.training.epochs} epoch(s); test split sentences of each register",
        "",
        "| register | test sentences | system | topic micro-F1 | tone macro-F1 | tone accuracy |",
        "|---|---:|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory(prefix="register-shift-") as tmp:
        seen_model = None
        for register in registers:
            scored = [e for e in test if e.register == register]
            train_without = [e for e in train_all if e.register != register]
            dev_without = [e for e in dev_all if e.register != register]
            seen = tfidf_scores(train_all + dev_all, scored, topics, tones)
            unseen = tfidf_scores(train_without + dev_without, scored, topics, tones)
            print(row("TF-IDF + LR", register, seen, unseen, len(scored)), flush=True)
            if args.tfidf_only:
                continue
            if seen_model is None:
                folder = Path(tmp) / "seen"
                folder.mkdir(parents=True)
                started = time.perf_counter()
                train(config, SEEDS / "train.jsonl", SEEDS / "dev.jsonl", folder / "model", progress=False)
                print(f"<!-- trained on every register in {time.perf_counter() - started:.0f} s -->", flush=True)
                seen_model = TorchPredictor.from_directory(folder / "model")
                whole = headline(evaluate_predictor(seen_model, test))
                cells = " | ".join(f"{whole[c]:.3f}" for c in COLUMNS)
                print(f"<!-- whole test split ({len(test)} sentences), seen model: {cells} -->", flush=True)
            seen_scores = headline(evaluate_predictor(seen_model, scored))
            unseen_scores, seconds = model_scores(config, train_without, dev_without, scored, Path(tmp) / register)
            print(row(config.model.base_model, register, seen_scores, unseen_scores, len(scored)), flush=True)
            print(f"<!-- trained without {register} in {seconds:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
