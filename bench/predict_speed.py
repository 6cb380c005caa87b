"""Inference speed on CPU: every stancetag path against the transformers text-classification pipeline.

All paths tag the same sentences in one run, on the same fine-tuned encoder, so the ratios are
comparable even on a noisy machine. Run after `make demo` (or pass --model):

    .venv/bin/python bench/predict_speed.py [--model artifacts/default] [--sentences 2000] [--data FILE ...] \
                                            [--rounds N] [--skip-default-pipeline]

Paths: the pipeline with its default batch size and with batch_size=32 (the reference of the
ratios), stancetag's torch predictor in fp32 and with bf16 autocast, and its ONNX Runtime exports
in fp32 and int8 (exported here by `model.export.export_onnx`, which refuses int8 below 99% label
agreement on the model's test split; a refusal is shown as such). Each path runs in a fresh process,
so "peak MB" is the peak resident memory of predicting that way (imports, model, scoring).

The pipeline wraps the fine-tuned encoder in its `AutoModelForSequenceClassification` (its pooler and
classifier are the only parts that differ, a negligible share of the compute): it is a speed
reference, not a quality one. Label agreement compares each path with fp32 inference of the
stancetag model: every topic decision and the tone of every sentence count as one label each.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PIPELINE_PATHS = {"pipeline-default": None, "pipeline-32": 32}
TORCH_PATHS = {"fp32": "fp32", "bf16": "bf16"}
ONNX_PATHS = {"onnx-fp32": None, "onnx-int8": "int8"}
TITLES = {
    "pipeline-default": "transformers pipeline, default batch size",
    "pipeline-32": "transformers pipeline, batch_size=32",
    "fp32": "stancetag torch fp32",
    "bf16": "stancetag torch bf16 autocast",
    "onnx-fp32": "stancetag ONNX Runtime fp32",
    "onnx-int8": "stancetag ONNX Runtime int8",
}


def news_sentences(n: int, sources: list[Path], seed: int = 0) -> list[str]:
    """n sentences drawn from labeled corpus files (news-like by construction), cycling if needed."""
    texts = []
    for path in sources:
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = sorted(set(texts))
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_pipeline(predictor, batch_size: int | None, device="cpu"):
    """The text-classification pipeline around the predictor's fine-tuned encoder (bench/gpu_check.py uses it too)."""
    from transformers import AutoModelForSequenceClassification, pipeline

    config = predictor.tagger.encoder.config.__class__.from_dict(predictor.tagger.encoder.config.to_dict())
    labels = list(predictor.meta.topics) + list(predictor.meta.tones)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    model = AutoModelForSequenceClassification.from_config(config)  # BERT for MiniLM, MPNet for mpnet
    model.base_model.load_state_dict(predictor.tagger.encoder.state_dict(), strict=False)
    model.eval()
    kwargs = {"batch_size": batch_size} if batch_size else {}
    return pipeline(
        "text-classification", model=model, tokenizer=predictor.tokenizer, top_k=None, device=device, **kwargs
    )


def run_path(name: str, folder: Path, texts: list[str]) -> dict:
    """One path in this (fresh) process: warm up, then one timed run."""
    warnings.filterwarnings("ignore")
    from stancetag.model.predictor import load_predictor

    labels = None
    if name in PIPELINE_PATHS:
        pipe = build_pipeline(load_predictor(folder, device="cpu", precision="fp32"), PIPELINE_PATHS[name])
        pipe(texts[:32])  # warm-up: first calls pay for kernel selection
        run = lambda: pipe(texts)  # noqa: E731
    else:
        predictor = load_predictor(folder, device="cpu", precision=TORCH_PATHS.get(name))
        predictor.predict_proba(texts[:64])
        run = lambda: predictor.predict_proba(texts)  # noqa: E731
    start = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - start
    if name not in PIPELINE_PATHS:
        labels = predictor.labels(out).tolist()
    import torch

    return {"seconds": seconds, "peak_mb": peak_rss_mb(), "labels": labels, "threads": torch.get_num_threads()}


def in_fresh_process(name: str, folder: Path, texts_file: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--run", name, "--model", str(folder), "--texts", str(texts_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def export_paths(model: Path, work: Path, check_data: Path | None) -> tuple[dict[str, Path], dict[str, str]]:
    """Export the ONNX paths; a refused int8 export becomes a note instead of a row."""
    from stancetag.errors import UserError
    from stancetag.model.export import export_onnx

    folders, notes = {}, {}
    for name, quantize in ONNX_PATHS.items():
        try:
            result = export_onnx(model, work / name, quantize=quantize, check_data=check_data)
        except UserError as err:
            notes[name] = f"not offered: {err}"
            continue
        folders[name] = result.output
        notes[name] = (
            f"export check: {result.agreement:.2%} label agreement with fp32 torch on {result.sentences} "
            f"sentences of {result.check_data}; {result.megabytes:.0f} MB"
        )
    return folders, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts" / "default")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--data", type=Path, nargs="+", help="JSONL files to draw sentences from (default: seeds/)")
    parser.add_argument("--check-data", type=Path, help="export agreement check data (default: the model's test split)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every path this many times, in turn; each path's fastest counts"
    )
    parser.add_argument("--skip-default-pipeline", action="store_true", help="skip the slow batch_size=1 pipeline")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: run one path in this process
    parser.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        texts = json.loads(args.texts.read_text(encoding="utf-8"))
        print(json.dumps(run_path(args.run, args.model, texts)))
        return

    import torch

    from stancetag.model.torch_backend import native_bf16

    sources = args.data or sorted((ROOT / "seeds").glob("*.jsonl"))
    texts = news_sentences(args.sentences, sources)
    print(
        f"{len(texts)} sentences ({len(set(texts))} distinct) from {', '.join(str(p) for p in sources)}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {native_bf16(torch.device('cpu'))}"
    )
    with tempfile.TemporaryDirectory(prefix="predict-speed-") as tmp:
        work = Path(tmp)
        texts_file = work / "texts.json"
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        folders, notes = export_paths(args.model, work, args.check_data)
        names = [n for n in PIPELINE_PATHS if not (n == "pipeline-default" and args.skip_default_pipeline)]
        names += list(TORCH_PATHS) + [n for n in ONNX_PATHS if n in folders]
        results: dict[str, dict] = {}
        for round_ in range(1, args.rounds + 1):  # in turn, so a burst of load elsewhere hits every path alike
            for name in names:
                r = in_fresh_process(name, folders.get(name, args.model), texts_file)
                print(f"  round {round_}, {TITLES[name]}: {len(texts) / r['seconds']:.1f} sentences/s", flush=True)
                if name not in results or r["seconds"] < results[name]["seconds"]:
                    results[name] = {**r, "peak_mb": max(r["peak_mb"], results.get(name, r)["peak_mb"])}

    reference_seconds = results["pipeline-32"]["seconds"]
    reference_labels = np.array(results["fp32"]["labels"])
    print(f"\n{'path':<44}{'sent/s':>9}{'x pipe32':>10}{'peak MB':>10}{'agreement':>11}")
    for name, r in results.items():
        agreement = "-" if r["labels"] is None else f"{np.mean(np.array(r['labels']) == reference_labels):.2%}"
        print(
            f"{TITLES[name]:<44}{len(texts) / r['seconds']:>9.1f}{reference_seconds / r['seconds']:>10.2f}"
            f"{r['peak_mb']:>10.0f}{agreement:>11}"
        )
    for name, note in notes.items():
        print(f"{TITLES[name]}: {note}")
    print(
        "agreement: share of labels (each topic decision, each tone) equal to stancetag torch fp32's on these "
        "sentences; peak MB: peak resident memory of a fresh process predicting that way"
    )


if __name__ == "__main__":
    main()
