"""Epoch checkpoints so that `stancetag train --resume` continues an interrupted run exactly.

A checkpoint lives in a hidden directory beside the output (`.NAME.checkpoint/`) and holds the
current and the best weights (safetensors) and the loop state (optimizer, scheduler, RNG states,
history) saved with `torch.save`, read back with `weights_only=True` so that loading cannot run
code. Each file is written to a temporary name and renamed, so a kill never leaves a torn file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from stancetag.errors import UserError

CURRENT_WEIGHTS = "current.safetensors"
BEST_WEIGHTS = "best.safetensors"
STATE_FILE = "state.pt"
IDENTITY_FILE = "identity.json"


def checkpoint_directory(output: Path) -> Path:
    return output.parent / f".{output.name}.checkpoint"


@dataclass
class LoopState:
    """What the training loop needs, besides weights, to continue after `epoch`."""

    epoch: int
    best: dict[str, Any]  # score, epoch, metrics, thresholds
    history: list[dict[str, Any]]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    torch_rng: torch.Tensor
    shuffler_rng: torch.Tensor
    cuda_rng: torch.Tensor | None = None  # dropout RNG of the GPU, when training on one


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def start(folder: Path, identity: dict[str, Any]) -> None:
    """Begin a fresh run: drop any old checkpoint and record what this run trains on."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / IDENTITY_FILE).write_text(json.dumps(identity, indent=2), encoding="utf-8")


def save(
    folder: Path, current: dict[str, torch.Tensor], best: dict[str, torch.Tensor] | None, state: LoopState
) -> None:
    if best is not None and state.best["epoch"] == state.epoch:
        _atomic(folder / BEST_WEIGHTS, lambda p: save_file(_weights(best), str(p)))
    _atomic(folder / CURRENT_WEIGHTS, lambda p: save_file(_weights(current), str(p)))
    _atomic(folder / STATE_FILE, lambda p: torch.save(state.__dict__, p))


def load(folder: Path, identity: dict[str, Any]) -> tuple[dict, dict | None, LoopState] | None:
    """The saved (current weights, best weights, loop state), or None when there is nothing to resume."""
    if not (folder / STATE_FILE).is_file():
        return None
    saved = json.loads((folder / IDENTITY_FILE).read_text(encoding="utf-8"))
    if saved != identity:
        changed = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
        raise UserError(
            f"{folder}: the checkpoint was made with a different {', '.join(changed)}; "
            "train without --resume to start over"
        )
    try:
        raw = torch.load(folder / STATE_FILE, weights_only=True)
        state = LoopState(**raw)
        current = load_file(str(folder / CURRENT_WEIGHTS))
        best = load_file(str(folder / BEST_WEIGHTS)) if (folder / BEST_WEIGHTS).is_file() else None
    except Exception as err:  # a damaged checkpoint is the user's to discard, not a crash
        raise UserError(f"{folder}: damaged checkpoint ({err}); train without --resume to start over") from err
    return current, best, state


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
