"""Does the model beat a keyword list? Topic F1 of both on the same labeled sentences.

    .venv/bin/python bench/keyword_baseline.py [--model artifacts/default] [--data seeds/test.jsonl]

The keyword lists are what an analyst would write in ten minutes (stems matched as substrings,
case-insensitive); they exist only as a baseline, the product never uses them.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from stancetag.labeled import load_examples
from stancetag.model.torch_backend import TorchPredictor

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {
    "taiwan": [
        "taiwan",
        "taipei",
        "cross-strait",
        "one china",
        "one-china",
        "tsai ",
        "lai ching-te",
        "kmt",
        "kuomintang",
        "the island",
    ],
    "trade": [
        "trade",
        "tariff",
        "export",
        "import",
        "sanction",
        "entity list",
        "chip",
        "semiconductor",
        "supply chain",
        "soybean",
        "investment",
        "economic",
        "rare earth",
        "market access",
        "currency",
    ],
    "military_ties": [
        "military",
        "defense",
        "defence",
        "army",
        "navy",
        "naval",
        "air force",
        "pla",
        "warship",
        "destroyer",
        "fighter",
        "drill",
        "exercise",
        "missile",
        "troops",
        "coast guard",
        "admiral",
        "general ",
        "weapon",
        "arms",
        "theatre command",
        "theater command",
        "carrier",
    ],
}


def keyword_topics(text: str, topics: tuple[str, ...]) -> list[int]:
    lowered = text.lower()
    return [int(any(re.search(re.escape(k), lowered) for k in KEYWORDS.get(t, []))) for t in topics]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts" / "default")
    parser.add_argument("--data", type=Path, default=ROOT / "seeds" / "test.jsonl")
    args = parser.parse_args()
    predictor = TorchPredictor.from_directory(args.model, device="cpu")
    topics = predictor.meta.topics
    examples = load_examples(args.data, predictor.meta.config.labels)
    gold = np.array([[int(t in e.topics) for t in topics] for e in examples])
    keyword = np.array([keyword_topics(e.text, topics) for e in examples])
    model = predictor.decide_topics(predictor.predict_proba([e.text for e in examples]).topic_probabilities).astype(int)
    print(f"{len(examples)} sentences from {args.data}")
    print(f"{'topic':<16}{'keywords F1':>12}{'model F1':>10}")
    for j, topic in enumerate(topics):
        print(f"{topic:<16}{f1_score(gold[:, j], keyword[:, j]):>12.3f}{f1_score(gold[:, j], model[:, j]):>10.3f}")
    for avg in ("micro", "macro"):
        k, m = f1_score(gold, keyword, average=avg), f1_score(gold, model, average=avg)
        cut = 1 - (1 - m) / (1 - k)
        print(f"{avg + ' F1':<16}{k:>12.3f}{m:>10.3f}   model/keywords {m / k:.2f}x, F1 errors cut by {cut:.0%}")


if __name__ == "__main__":
    main()
