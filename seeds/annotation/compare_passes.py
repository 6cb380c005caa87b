"""Compare pass A and pass B of batches K...: Cohen's kappa per label, and the disagreements to adjudicate.

python seeds/annotation/compare_passes.py OUT_DIR K [K ...]
"""

import json
import random
import sys
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

HERE = Path(__file__).parent
TOPICS = ["taiwan", "trade", "military_ties"]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


out_dir, batches = Path(sys.argv[1]), sys.argv[2:]
first, second = [], []
for k in batches:
    rows = read(HERE / f"pass_a_{k}.jsonl")
    pass_b = {r["id"]: r for r in read(HERE / f"pass_b_{k}.jsonl")}
    disagreements = []
    for i, row in enumerate(rows):
        rid = f"{k}-{i:04d}"
        other = pass_b[rid]
        first.append(row)
        second.append(other)
        if set(row["topics"]) != set(other["topics"]) or row["tone"] != other["tone"]:
            labels = [
                {"topics": [t for t in TOPICS if t in row["topics"]], "tone": row["tone"]},
                {"topics": [t for t in TOPICS if t in other["topics"]], "tone": other["tone"]},
            ]
            random.Random(rid).shuffle(labels)  # unattributed: the adjudicator cannot tell pass A from pass B
            disagreements.append(
                {"id": rid, "text": row["text"], "article": row["article"], "label_1": labels[0], "label_2": labels[1]}
            )
    (out_dir / f"disagree_{k}.jsonl").write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in disagreements), encoding="utf-8"
    )
    print(f"batch {k}: {len(rows)} sentences, {len(disagreements)} disagreements")
for topic in TOPICS:
    a = [topic in r["topics"] for r in first]
    b = [topic in r["topics"] for r in second]
    print(f"{topic}: kappa {cohen_kappa_score(a, b):.3f}")
print(f"tone: kappa {cohen_kappa_score([r['tone'] for r in first], [r['tone'] for r in second]):.3f}")
