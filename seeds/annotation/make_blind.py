"""Second-pass input: ids and texts of pass_a_K.jsonl only, shuffled, so pass B sees no labels.

python seeds/annotation/make_blind.py K OUT.jsonl
"""

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent

k, out = sys.argv[1], Path(sys.argv[2])
rows = [json.loads(line) for line in (HERE / f"pass_a_{k}.jsonl").read_text(encoding="utf-8").splitlines() if line]
items = [{"id": f"{k}-{i:04d}", "text": r["text"]} for i, r in enumerate(rows)]
random.Random(int(k)).shuffle(items)
out.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
print(f"{len(items)} sentences to {out}")
