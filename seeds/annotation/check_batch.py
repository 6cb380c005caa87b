"""Validate one writing batch (pass_a_K.jsonl) and print its balance against the corpus-v2 targets.

python seeds/annotation/check_batch.py K
"""

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
TOPICS = {"taiwan", "trade", "military_ties"}
TONES = {"cooperative", "contentious", "neutral"}
REGISTERS = {
    "wire", "feature_lead", "analysis", "opinion", "interview", "explainer",
    "profile", "markets", "domestic", "world", "culture",
}
ERAS = {"2009-2012", "2013-2016", "2017-2020", "2021-2024", "2025-2026"}

k = sys.argv[1]
path = HERE / f"pass_a_{k}.jsonl"
rows, problems = [], []
for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
    if not line.strip():
        continue
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(f"line {n}: not JSON ({exc})")
        continue
    for key in ("text", "topics", "tone", "article", "register", "era"):
        if key not in row:
            problems.append(f"line {n}: missing {key!r}")
    if set(row.get("topics", [])) - TOPICS:
        problems.append(f"line {n}: unknown topic {set(row['topics']) - TOPICS}")
    if row.get("tone") not in TONES:
        problems.append(f"line {n}: unknown tone {row.get('tone')!r}")
    if row.get("register") not in REGISTERS:
        problems.append(f"line {n}: unknown register {row.get('register')!r}")
    if row.get("era") not in ERAS:
        problems.append(f"line {n}: unknown era {row.get('era')!r}")
    rows.append(row)
texts = Counter(r.get("text", "") for r in rows)
problems += [f"duplicate sentence: {t[:60]!r}" for t, c in texts.items() if c > 1]
for p in problems:
    print("PROBLEM", p)
if not rows:
    sys.exit("no rows")
words = [len(r["text"].split()) for r in rows]
n = len(rows)
print(f"sentences {n}, articles {len({r['article'] for r in rows})}")
over_40 = sum(w > 40 for w in words) / n
print(f"mean words {sum(words) / n:.1f} (target >= 30), over 40 words {over_40:.0%} (target >= 25%)")
print(f"no topic {sum(not r['topics'] for r in rows) / n:.0%} (corpus target >= 40%)")
print("tones", {t: f"{c / n:.0%}" for t, c in Counter(r["tone"] for r in rows).items()}, "(neutral target >= 35%)")
print("topics", dict(Counter(t for r in rows for t in r["topics"])))
print("registers", dict(Counter(r["register"] for r in rows)))
print("eras", dict(Counter(r["era"] for r in rows)))
sys.exit(1 if problems else 0)
