"""Build seeds/{train,dev,test}.jsonl from the two annotation passes and the adjudication.

    python seeds/annotation/build_corpus.py

Inputs, all in seeds/annotation/:
  pass_a_K.jsonl      the writers' labels (text, topics, tone, article; register and era from batch 9 on), pass A
  pass_b_K.jsonl      a second annotator's blind labels by sentence id "K-NNNN", pass B
  adjudicated_*.jsonl the decision on every sentence where the passes disagreed
  eras_wire.json      the era of each article of batches 1-8 (written before registers existed: all `wire`)
  corrections.jsonl   labels changed after adjudication, when a guide row settled later decides a sentence
Outputs: the three splits (by article, about 70/15/15 within each writer's batch, and within each register
of a batch, so that every split covers every theme and every register; the seed article goes to test) and
agreement.json (Cohen's kappa, overall and per register).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

HERE = Path(__file__).parent
SEEDS = HERE.parent
TOPICS = ("taiwan", "trade", "military_ties")
TONES = ("cooperative", "contentious", "neutral")
SEED = 2026
FIRST_V2_BATCH = 9  # batches before this one are the wire-only corpus v1


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ordered(topics) -> list[str]:
    return [t for t in TOPICS if t in topics]


NEAR_COPY = 0.8  # word-set Jaccard at or above which two sentences count as near-copies


def drop_near_copies(batches: dict[int, list[dict]]) -> list[tuple[str, str]]:
    """Remove, in place, every sentence that nearly copies an earlier one (writers covering the same
    event sometimes converge on the same wording); returns the (kept, dropped) pairs."""
    kept_words: dict[str, frozenset[str]] = {}
    index: dict[str, list[str]] = {}
    dropped = []
    for k in sorted(batches):
        survivors = []
        for row in batches[k]:
            bag = frozenset(re.findall(r"[a-z0-9']+", row["text"].lower()))
            match = None
            if len(bag) >= 6:
                shared = Counter(other for word in bag for other in index.get(word, []))
                match = next((o for o, n in shared.items() if n / len(bag | kept_words[o]) >= NEAR_COPY), None)
            if match is not None or row["text"] in kept_words:
                dropped.append((match or row["text"], row["text"]))
                continue
            kept_words[row["text"]] = bag
            for word in bag:
                index.setdefault(word, []).append(row["text"])
            survivors.append(row)
        batches[k] = survivors
    return dropped


def kappas(pass_a: list[dict], pass_b: list[dict]) -> dict[str, dict[str, float]]:
    """Cohen's kappa and raw agreement of the two passes, per topic and for tone."""
    out = {}
    pairs = {t: ([t in r["topics"] for r in pass_a], [t in r["topics"] for r in pass_b]) for t in TOPICS}
    pairs["tone"] = ([r["tone"] for r in pass_a], [r["tone"] for r in pass_b])
    for name, (a, b) in pairs.items():
        same = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        kappa = cohen_kappa_score(a, b) if len(set(a) | set(b)) > 1 else 1.0
        out[name] = {"kappa": round(float(kappa), 3), "raw_agreement": round(same, 3)}
    return out


def split_articles(rows: list[dict], rng: random.Random) -> dict[str, str]:
    """Article -> split, about 70/15/15 by article; at least one test article for any group of 3 or more."""
    articles = list(dict.fromkeys(r["article"] for r in rows))
    rng.shuffle(articles)
    n_dev = n_test = round(0.15 * len(articles))
    if len(articles) >= 3:
        n_dev, n_test = max(1, n_dev), max(1, n_test)
    which = {a: "dev" for a in articles[:n_dev]}
    which.update({a: "test" for a in articles[n_dev : n_dev + n_test]})
    return which


def main() -> None:
    eras_wire = json.loads((HERE / "eras_wire.json").read_text(encoding="utf-8"))
    corrections = {r["id"]: r for r in read_jsonl(HERE / "corrections.jsonl")}
    adjudicated = {}
    for path in sorted(HERE.glob("adjudicated_*.jsonl")):
        adjudicated.update({r["id"]: r for r in read_jsonl(path)})
    batches = sorted(int(p.stem.rsplit("_", 1)[1]) for p in HERE.glob("pass_a_*.jsonl"))
    pass_a, pass_b, batch_of, final_by_batch = [], [], [], {}
    for k in batches:
        rows = read_jsonl(HERE / f"pass_a_{k}.jsonl")
        second = {r["id"]: r for r in read_jsonl(HERE / f"pass_b_{k}.jsonl")}
        final = []
        for i, row in enumerate(rows):
            rid = f"{k}-{i:04d}"
            b = second[rid]
            pass_a.append(row)
            pass_b.append(b)
            batch_of.append(k)
            agree = set(row["topics"]) == set(b["topics"]) and row["tone"] == b["tone"]
            label = corrections.get(rid) or (row if agree else adjudicated[rid])
            if k < FIRST_V2_BATCH:
                row = {**row, "register": "wire", "era": eras_wire[row["article"]]}
            final.append(
                {
                    "text": row["text"].strip(),
                    "topics": ordered(label["topics"]),
                    "tone": label["tone"],
                    "article": row["article"],
                    "register": row["register"],
                    "era": row["era"],
                }
            )
        final_by_batch[k] = final

    agreement = {"sentences": len(pass_a), "per_label": kappas(pass_a, pass_b)}
    registers = [r["register"] if k >= FIRST_V2_BATCH else "wire" for k, r in zip(batch_of, pass_a, strict=True)]
    agreement["per_register"] = {
        name: {
            "sentences": registers.count(name),
            "per_label": kappas(
                [a for a, g in zip(pass_a, registers, strict=True) if g == name],
                [b for b, g in zip(pass_b, registers, strict=True) if g == name],
            ),
        }
        for name in sorted(set(registers))
    }
    agreement["disagreements_adjudicated"] = sum(
        1 for x, y in zip(pass_a, pass_b, strict=True) if set(x["topics"]) != set(y["topics"]) or x["tone"] != y["tone"]
    )

    dropped = drop_near_copies(final_by_batch)
    agreement["near_copies_dropped"] = len(dropped)
    for kept, gone in dropped:
        print(f"near-copy dropped: {gone!r}\n              kept: {kept!r}")

    splits = {"train": [], "dev": [], "test": []}
    rng = random.Random(SEED)
    for k in batches:
        rows = final_by_batch[k]
        if k < FIRST_V2_BATCH:
            which = split_articles(rows, rng)  # the v1 splits, unchanged: one draw per batch, in batch order
        else:
            which = {}
            for register in sorted({r["register"] for r in rows}):
                which.update(split_articles([r for r in rows if r["register"] == register], random.Random(SEED + k)))
        for row in rows:
            splits[which.get(row["article"], "train")].append(row)
    splits["test"] += [{**r, "register": "wire", "era": "2021-2024"} for r in read_jsonl(SEEDS / "seed_article.jsonl")]

    for name, rows in splits.items():
        with (SEEDS / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    (HERE / "agreement.json").write_text(json.dumps(agreement, indent=2) + "\n", encoding="utf-8")

    written = [r for k in batches for r in final_by_batch[k]]
    topics = Counter(t for r in written for t in r["topics"])
    tones = Counter(r["tone"] for r in written)
    print(f"written sentences {len(written)} in {len({r['article'] for r in written})} articles")
    print("topics", dict(topics), "tones", dict(tones))
    print(
        f"no topic {sum(not r['topics'] for r in written)}, two or more {sum(len(r['topics']) >= 2 for r in written)}"
    )
    for name, rows in splits.items():
        print(f"{name}: {len(rows)} sentences, {len({r['article'] for r in rows})} articles")
    print(json.dumps(agreement, indent=2))


if __name__ == "__main__":
    main()
