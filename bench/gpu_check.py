"""Helpers of bench/gpu_check.sh, each runnable (and tested) on a CPU too.

python bench/gpu_check.py constraints constraints.txt       # pins minus what this Python already has
python bench/gpu_check.py corpus --sentences 200000 --output corpus.jsonl
python bench/gpu_check.py pipeline --model DIR --corpus corpus.jsonl --sample 5000 --device cuda
python bench/gpu_check.py rate --label NAME --sentences N --seconds S [--reference RATE]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def constraints(path: Path) -> str:
    """The pins of `path`, less those of packages this interpreter already has installed.

    On the GPU machine the image's own CUDA build of torch (and its transformers, numpy, ...) must
    stay: the pinned CPU build of torch would run nothing on the GPU, and nothing can be
    downloaded there. Packages the image lacks keep their pins and come from the wheel folder.
    """
    kept, dropped = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0]
        if not name or name.startswith("#"):
            continue
        try:
            dropped.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            kept.append(line.strip())
    header = f"# from {path}; already installed here, so left as they are: {', '.join(dropped) or 'none'}"
    return "\n".join([header, *kept]) + "\n"


def corpus_texts(sources: list[Path]) -> list[str]:
    texts = []
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["text"])
    texts = sorted(set(texts))
    if not texts:
        raise SystemExit(f"no sentences in {', '.join(map(str, sources)) or 'no files'}")
    return texts


def write_corpus(sources: list[Path], n: int, output: Path, per_article: int = 20) -> None:
    """n rows of one sentence each, the corpus sentences repeated in a shuffled order, 20 rows per article id."""
    texts = corpus_texts(sources)
    random.Random(0).shuffle(texts)
    with output.open("w", encoding="utf-8") as stream:
        for i in range(n):
            row = {"text": texts[i % len(texts)], "article": f"doc{i // per_article:06d}"}
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")


def pipeline_rates(model_dir: Path, corpus: Path, sample: int, device: str, batch_size: int) -> dict[str, float]:
    """Sentences/second of the transformers pipeline and of stancetag's TorchPredictor.predict_proba on one sample.

    Both get the sentences ready-made (no splitting, no output): the model paths alone. The
    pipeline is bench/predict_speed.py's (the fine-tuned encoder in its own
    sequence-classification class): a speed reference, not a quality one.
    """
    import torch
    from predict_speed import build_pipeline
    from transformers.utils import logging as hf_logging

    from stancetag.model.torch_backend import TorchPredictor

    hf_logging.set_verbosity_error()
    with corpus.open(encoding="utf-8") as stream:
        texts = [json.loads(line)["text"] for _, line in zip(range(sample), stream, strict=False)]
    predictor = TorchPredictor.from_directory(model_dir, device=device)
    pipe = build_pipeline(predictor, batch_size, device=predictor.device)

    def timed(fn) -> float:
        fn(texts[:256])  # warm-up: kernel selection, allocator
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn(texts)
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        return len(texts) / (time.perf_counter() - started)

    return {
        "sentences": len(texts),
        "pipeline": timed(pipe),
        "stancetag_score": timed(predictor.predict_proba),
        "stancetag_batch_size": predictor.batch_size,
        "stancetag_precision": predictor.precision,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("constraints")
    c.add_argument("path", type=Path)
    c = commands.add_parser("corpus")
    c.add_argument("--sentences", type=int, required=True)
    c.add_argument("--output", type=Path, required=True)
    c.add_argument("--source", type=Path, nargs="*", help="labeled JSONL files (default: seeds/*.jsonl)")
    c = commands.add_parser("pipeline")
    c.add_argument("--model", type=Path, required=True)
    c.add_argument("--corpus", type=Path, required=True)
    c.add_argument("--sample", type=int, default=5000)
    c.add_argument("--device", default="cuda")
    c.add_argument("--batch-size", type=int, default=32)
    c = commands.add_parser("rate")
    c.add_argument("--label", required=True)
    c.add_argument("--sentences", type=int, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--reference", type=float, help="sentences/second to print the ratio against")
    args = parser.parse_args(argv)

    if args.command == "constraints":
        sys.stdout.write(constraints(args.path))
    elif args.command == "corpus":
        write_corpus(args.source or sorted((ROOT / "seeds").glob("*.jsonl")), args.sentences, args.output)
    elif args.command == "pipeline":
        print(json.dumps(pipeline_rates(args.model, args.corpus, args.sample, args.device, args.batch_size)))
    else:
        rate = args.sentences / args.seconds
        ratio = f"  {rate / args.reference:6.2f}x the pipeline" if args.reference else ""
        print(f"{args.label:<44}{args.sentences:>8} sentences {args.seconds:8.1f} s {rate:>9.0f} sent/s{ratio}")


if __name__ == "__main__":
    main()
