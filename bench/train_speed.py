"""Training speed: stancetag's training loop against Hugging Face `Trainer` defaults, in one run.

Both fine-tune the same encoder (the config's base model, the default MiniLM) on the same
sentences for the same epochs, with the same batch size and maximum length. Everything else is
each side's own default:

- stancetag: `training.loop.train` with configs/default.yaml: length-bucketed batches with dynamic
  padding, bf16 autocast where the CPU or GPU runs bf16 natively (`training.precision: auto`), two
  heads on the mean-pooled encoder, fused AdamW. Also run with `training.precision: fp32`, to show
  what the loop gives without bf16.
- Trainer: `BertForSequenceClassification` with a multi-label head (the topics and the one-hot tone
  as sigmoid labels), `TrainingArguments` defaults (fp32, shuffled batches padded by
  `DataCollatorWithPadding`, fused AdamW) but for the batch size and the epochs.

Sentences/second counts the training passes only: stancetag's per-epoch dev evaluation and the
model loading of both sides are left out. The ratio compares median epochs (robust to one epoch
slowed by another program on a shared machine). Run from the repository root:

    .venv/bin/python bench/train_speed.py [--data seeds/train.jsonl] [--sentences 400] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from stancetag.config import Config, load_config, with_overrides
from stancetag.labeled import Example, load_examples
from stancetag.model.network import resolve_base_model
from stancetag.model.torch_backend import choose_device, native_bf16
from stancetag.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (ROOT / "seeds" / "train.jsonl", Path("/tmp/prov/train.jsonl"))


def write_jsonl(path: Path, examples: list[Example]) -> Path:
    rows = [{"text": e.text, "topics": list(e.topics), "tone": e.tone, "article": e.article} for e in examples]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def split(examples: list[Example], n: int, n_dev: int) -> tuple[list[Example], list[Example]]:
    """n sentences drawn at random (seeded) to train on; dev sentences from the rest, none sharing a text."""
    examples = random.Random(0).sample(examples, len(examples))
    train_part = examples[:n]
    seen = {e.text for e in train_part}
    dev = [e for e in examples[n:] if e.text not in seen][:n_dev]
    if len(train_part) < n or not dev:
        raise SystemExit(f"need more than {n} sentences of data for --sentences {n}; found {len(examples)}")
    return train_part, dev


def stancetag_rates(config: Config, train_file: Path, dev_file: Path, device: str, folder: Path) -> list[float]:
    output = folder / f"model-{config.training.precision}"
    train(config, train_file, dev_file, output, progress=False, device=device)
    history = json.loads((output / "stancetag.json").read_text())["training"]["history"]
    return [h["sentences_per_second"] for h in history]


def trainer_rates(config: Config, examples: list[Example], epochs: int, device: str, folder: Path) -> list[float]:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    source = resolve_base_model(config.model.base_model)
    labels = list(config.labels.topics) + list(config.labels.tones)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), problem_type="multi_label_classification", trust_remote_code=False
    )
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=config.model.max_length)
    rows = [
        {
            "input_ids": encoded["input_ids"][i],
            "attention_mask": encoded["attention_mask"][i],
            "labels": [float(label in e.topics or label == e.tone) for label in labels],
        }
        for i, e in enumerate(examples)
    ]

    class EpochTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_epoch_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self.started)

    timer = EpochTimer()
    arguments = TrainingArguments(
        output_dir=str(folder / "trainer"),
        num_train_epochs=epochs,
        per_device_train_batch_size=config.training.batch_size,
        seed=config.training.seed,
        use_cpu=choose_device(device).type == "cpu",
        # not speed settings: no checkpoints, no reporting, no progress bar in the printout
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=rows, processing_class=tokenizer, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)  # its end-of-training dict would break the printout
    trainer.train()
    return [len(examples) / s for s in timer.seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="labeled JSONL (default: seeds/train.jsonl, else /tmp/prov)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml")
    parser.add_argument("--sentences", type=int, default=400, help="training sentences (a seeded sample of --data)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)

    data = args.data or next((p for p in DEFAULT_DATA if p.is_file()), None)
    if data is None:
        raise SystemExit("no training data: pass --data, or build seeds/train.jsonl first")
    config = with_overrides(
        load_config(args.config), {"training.epochs": args.epochs, "training.patience": args.epochs}
    )
    examples, dev = split(load_examples(data, config.labels), args.sentences, 64)
    device = choose_device(args.device)
    print(
        f"{len(examples)} training sentences from {data}, {args.epochs} epochs, batch {config.training.batch_size}, "
        f"max length {config.model.max_length}, {config.model.base_model}; device {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, native bf16: {native_bf16(device)}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train_file, dev_file = write_jsonl(folder / "train.jsonl", examples), write_jsonl(folder / "dev.jsonl", dev)
        rows.append(
            ("Hugging Face Trainer, defaults (fp32)", trainer_rates(config, examples, args.epochs, args.device, folder))
        )
        auto = stancetag_rates(config, train_file, dev_file, args.device, folder)
        rows.append((f"stancetag, precision auto ({'bf16' if native_bf16(device) else 'fp32'})", auto))
        fp32 = with_overrides(config, {"training.precision": "fp32"})
        rows.append(("stancetag, precision fp32", stancetag_rates(fp32, train_file, dev_file, args.device, folder)))

    # The median epoch: one epoch slowed by another program on a shared machine does not move it.
    reference = float(np.median(rows[0][1]))
    epochs_header = "".join(f"{f'epoch {k + 1}':>10}" for k in range(args.epochs))
    print(f"\n{'training loop (sentences/second)':<42}{epochs_header}{'median':>10}{'x Trainer':>11}")
    for name, rates in rows:
        per_epoch = "".join(f"{r:>10.1f}" for r in rates)
        median = float(np.median(rates))
        print(f"{name:<42}{per_epoch}{median:>10.1f}{median / reference:>11.2f}")


if __name__ == "__main__":
    main()
