"""Cold start of `stancetag predict` on one sentence: a torch model folder against its ONNX export.

    python bench/cold_start.py --model artifacts/default --onnx artifacts/default-onnx [--rounds 5]

Each round runs both commands as fresh processes, one after the other (interleaved, so a busy
machine slows both alike), and the medians are printed side by side with their ratio. Also
reports whether torch and transformers were imported on the ONNX path (they should not be).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCE = "The two sides agreed to resume military-to-military talks after a year of silence."
PROBE = (
    "import sys\n"
    "from stancetag.cli import app\n"
    "sys.argv = ['stancetag', 'predict', '--model', sys.argv[1], sys.argv[2]]\n"
    "try:\n    app()\nexcept SystemExit:\n    pass\n"
    "print('imported:', sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)\n"
)


def run_once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="torch model folder")
    parser.add_argument("--onnx", type=Path, required=True, help="its `stancetag export --onnx` folder")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stancetag = str(Path(sys.executable).with_name("stancetag"))
    with tempfile.TemporaryDirectory() as tmp:
        article = Path(tmp) / "one.txt"
        article.write_text(SENTENCE + "\n", encoding="utf-8")
        times: dict[str, list[float]] = {"torch": [], "onnx": []}
        for _ in range(args.rounds):
            times["torch"].append(run_once([stancetag, "predict", "--model", str(args.model), str(article)]))
            times["onnx"].append(run_once([stancetag, "predict", "--model", str(args.onnx), str(article)]))
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, str(args.onnx), str(article)], capture_output=True, text=True, check=True
        )
    torch_s, onnx_s = statistics.median(times["torch"]), statistics.median(times["onnx"])
    print(f"cold start, one sentence, median of {args.rounds} fresh processes each (interleaved):")
    print(f"  torch model folder   {torch_s:6.2f} s")
    print(f"  ONNX export          {onnx_s:6.2f} s   ({torch_s / onnx_s:.1f}x faster)")
    print(f"  ONNX path {probe.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
