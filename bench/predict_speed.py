"""Inference speed: stancetag's predictor against the transformers text-classification pipeline.

All paths tag the same sentences in one run, on the same fine-tuned encoder, so the ratios are
comparable even on a noisy machine. Run after `make demo` (or pass --model):

    .venv/bin/python bench/predict_speed.py [--model artifacts/default] [--sentences 2000]

The pipeline wraps the fine-tuned encoder in `BertForSequenceClassification` (its pooler and
classifier are the only parts that differ, a negligible share of the compute): it is a speed
reference, not a quality one. Label agreement compares each fast path with plain fp32 inference of
the stancetag model: every topic decision and the tone of every sentence count as one label each.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from model.inference import Predictor, native_bf16

ROOT = Path(__file__).resolve().parents[1]


def news_sentences(n: int, seed: int = 0) -> list[str]:
    """n sentences drawn from the shipped corpus (news-like by construction), cycling if needed."""
    texts = []
    for path in sorted((ROOT / "seeds").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = sorted(set(texts))
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn):
    reset_peak_rss()
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start, peak_rss_mb()


def build_pipeline(model_dir: Path, predictor: Predictor, batch_size: int | None):
    from transformers import BertForSequenceClassification, pipeline

    config = predictor.tagger.encoder.config.__class__.from_dict(predictor.tagger.encoder.config.to_dict())
    labels = list(predictor.meta.topics) + list(predictor.meta.tones)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(predictor.tagger.encoder.state_dict(), strict=False)
    model.eval()
    kwargs = {"batch_size": batch_size} if batch_size else {}
    return pipeline(
        "text-classification", model=model, tokenizer=predictor.tokenizer, top_k=None, device="cpu", **kwargs
    )


def labels_of(predictor: Predictor, texts: list[str], scores) -> np.ndarray:
    topics = predictor.decide_topics(scores.topic_probabilities).astype(int)
    tones = scores.tone_probabilities.argmax(axis=1)[:, None]
    return np.concatenate([topics, tones], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts" / "default")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--skip-default-pipeline", action="store_true", help="skip the slow batch_size=1 pipeline")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    texts = news_sentences(args.sentences)
    print(
        f"{len(texts)} sentences, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"native bf16: {native_bf16(torch.device('cpu'))}"
    )

    fp32 = Predictor.from_directory(args.model, device="cpu", precision="fp32")
    bf16 = Predictor.from_directory(args.model, device="cpu", precision="bf16")
    fp32.score(texts[:64])
    bf16.score(texts[:64])  # warm-up: first calls pay for kernel selection

    rows = []
    if not args.skip_default_pipeline:
        pipe = build_pipeline(args.model, fp32, None)
        pipe(texts[:8])
        _, seconds, mem = timed(lambda: pipe(texts))
        rows.append(("transformers pipeline, default batch size", seconds, mem, None))
    pipe32 = build_pipeline(args.model, fp32, 32)
    pipe32(texts[:32])
    _, seconds, mem = timed(lambda: pipe32(texts))
    rows.append(("transformers pipeline, batch_size=32", seconds, mem, None))
    reference_seconds = seconds

    scores32, seconds, mem = timed(lambda: fp32.score(texts))
    reference = labels_of(fp32, texts, scores32)
    rows.append(("stancetag fp32 (length-sorted batches)", seconds, mem, 1.0))
    scores16, seconds, mem = timed(lambda: bf16.score(texts))
    agreement = float(np.mean(labels_of(bf16, texts, scores16) == reference))
    rows.append(("stancetag bf16 autocast (length-sorted)", seconds, mem, agreement))

    print(f"\n{'path':<44}{'sent/s':>9}{'x pipe32':>10}{'peak MB':>10}{'agreement':>11}")
    for name, seconds, mem, agree in rows:
        rate = len(texts) / seconds
        ratio = reference_seconds / seconds
        agree_text = f"{agree:.2%}" if agree is not None else "-"
        print(f"{name:<44}{rate:>9.1f}{ratio:>10.2f}{mem:>10.0f}{agree_text:>11}")


if __name__ == "__main__":
    main()
