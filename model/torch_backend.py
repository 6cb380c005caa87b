"""The torch backend of the predictor: devices, precision, and the forward pass of a trained tagger.

Everything runs under `torch.inference_mode`. Batching, records and streaming in bounded chunks
(memory stays flat however many articles go through `tag_articles`) live in `predictor`,
shared with the ONNX Runtime predictor.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stancetag.model.artifact import load_artifact
from stancetag.model.meta import ArtifactMeta
from stancetag.model.network import StanceTagger
from stancetag.model.predictor import Predictor, Scores

log = logging.getLogger(__name__)

# The config's inference.batch_size suits a CPU; a GPU is starved by batches that small (each
# forward pass is a few hundred tiny kernel launches), so without --batch-size it gets this many times more.
CUDA_BATCH_FACTOR = 8


def choose_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from stancetag.errors import UserError

        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(device)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a CPU tensor to `device`; to a GPU from pinned memory, without making the CPU wait."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matrix math runs in hardware (AVX512-BF16/AMX CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


class TorchPredictor(Predictor):
    """Scores sentences with a trained torch tagger; thresholds decide which topics are on."""

    def __init__(
        self,
        tagger: StanceTagger,
        tokenizer,
        meta: ArtifactMeta,
        *,
        precision: str | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        thresholds: dict[str, float] | None = None,
    ) -> None:
        self.meta = meta
        self.device = choose_device(device)
        self.tagger = tagger.to(self.device).eval()
        self.tokenizer = tokenizer
        self.precision = resolve_precision(precision or meta.config.inference.precision, self.device)
        factor = CUDA_BATCH_FACTOR if self.device.type == "cuda" else 1
        self.batch_size = batch_size or meta.config.inference.batch_size * factor
        self.max_length = meta.config.model.max_length
        self.thresholds = {**meta.thresholds, **(thresholds or {})}
        self.truncated = 0

    @classmethod
    def from_directory(cls, folder: str | Path, **options: Any) -> TorchPredictor:
        tagger, tokenizer, meta = load_artifact(folder)
        return cls(tagger, tokenizer, meta, **options)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _score_ids(self, ids: list[list[int]], bar: Any = None) -> Scores:
        self.tagger.eval()  # the training loop scores dev through this predictor between epochs
        with torch.inference_mode(), self._autocast():
            return super()._score_ids(ids, bar)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, mask = (to_device(torch.from_numpy(a), self.device) for a in (input_ids, attention_mask))
        topic_logits, tone_logits = self.tagger(ids, mask)
        return topic_logits.float().cpu().numpy(), tone_logits.float().cpu().numpy()
