"""Predicting with an exported ONNX model (`stancetag export --onnx`) on ONNX Runtime's CPU provider.

The exported folder is self-describing like a torch model directory: `stancetag.json` (labels,
thresholds, tone temperature, config), the tokenizer, the encoder's `config.json`, `model.onnx`,
and `onnx.json` (how it was exported and its measured label agreement with fp32 torch).
`load_predictor` picks the runtime a folder needs. Nothing on this path imports torch or
transformers: `stancetag.json` is read by `meta`, and the tokenizer runs on the `tokenizers`
library alone, so `predict` on an export starts in a fraction of the torch path's time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from stancetag.errors import UserError
from stancetag.model.folder import (
    CONFIG_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    check_stancetag_config,
    refuse_custom_code,
    require_files,
)
from stancetag.model.meta import META_FILE, ArtifactMeta, read_meta
from stancetag.model.predictor import Predictor
from stancetag.readers import read_json_file

ONNX_FILE = "model.onnx"
EXPORT_FILE = "onnx.json"
EXPORT_FORMAT_VERSION = 1
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAMES = ("topic_logits", "tone_logits")
QUANTIZATIONS = ("int8",)
EXPORT_FIX = "copy the whole exported folder or export the model again"
# What `stancetag export --onnx` always writes besides stancetag.json and onnx.json.
EXPORT_FILES = {
    ONNX_FILE: "",
    CONFIG_FILE: "model config",
    TOKENIZER_FILE: "tokenizer file",
    TOKENIZER_CONFIG_FILE: "tokenizer settings",
}


def is_onnx_export(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / EXPORT_FILE).is_file() or (folder / ONNX_FILE).is_file()


def read_export_info(folder: Path) -> dict[str, Any]:
    path = folder / EXPORT_FILE
    if not path.is_file():
        raise UserError(
            f"{folder}: {ONNX_FILE} without {EXPORT_FILE}; it was not written by `stancetag export --onnx`, "
            "export the model again"
        )
    info = read_json_file(path, "export the model again")
    if not isinstance(info, dict) or info.get("format_version") != EXPORT_FORMAT_VERSION:
        found = info.get("format_version") if isinstance(info, dict) else type(info).__name__
        raise UserError(
            f"{path}: export format version {found!r}, this stancetag reads version {EXPORT_FORMAT_VERSION}; "
            "export the model again with this version"
        )
    if info.get("quantization") not in (None, *QUANTIZATIONS):
        raise UserError(f"{path}: unknown `quantization` {info.get('quantization')!r}; export the model again")
    return info


def user_threads() -> int:
    """OMP_NUM_THREADS when the user set it (torch honours it, ONNX Runtime does not), else 0:
    ONNX Runtime's own default, one thread per physical core, as torch does."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return 0


def open_session(path: Path, meta: ArtifactMeta):
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise UserError(f"{path}: reading an ONNX model needs onnxruntime; pip install onnxruntime") from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = user_threads()
    options.log_severity_level = 3  # errors only: ORT's graph-optimisation notes are not the user's business
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own (pybind) exception types for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"{path}: not a readable ONNX model ({first}); export it again with `stancetag export --onnx`"
        ) from err
    inputs = tuple(i.name for i in session.get_inputs())
    outputs = {o.name: o.shape for o in session.get_outputs()}
    expected = {OUTPUT_NAMES[0]: len(meta.topics), OUTPUT_NAMES[1]: len(meta.tones)}
    if sorted(inputs) != sorted(INPUT_NAMES) or any(
        name not in outputs or outputs[name][-1] != size for name, size in expected.items()
    ):
        raise UserError(
            f"{path}: inputs {list(inputs)} and outputs {outputs} do not match {META_FILE} "
            f"({len(meta.topics)} topics, {len(meta.tones)} tones); the folder mixes files of different models, "
            "export it again"
        )
    return session


def check_export_folder(folder: Path, meta: ArtifactMeta) -> None:
    """Every file an export holds is there, none names custom code, and the encoder's sizes and
    positions fit the `max_length` predict cuts to. Model types and class names are not checked:
    this path builds nothing from them (and does not import transformers to look them up)."""
    require_files(folder, EXPORT_FILES, EXPORT_FIX)
    refuse_custom_code(folder, class_names=False)
    path = folder / CONFIG_FILE
    config = read_json_file(path, "export the model again")
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object; export the model again")
    check_stancetag_config(path, config, meta.config.model.max_length, folder / META_FILE, "export the model again")


class FastTokenizer:
    """A folder's `tokenizer.json` run by the `tokenizers` library: the same ids as transformers' fast
    tokenizer, which wraps the same file, without importing transformers (and with it torch)."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        path = folder / TOKENIZER_FILE
        if not path.is_file():
            raise UserError(f"{path}: tokenizer file missing; {EXPORT_FIX}")
        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises its own exception type for unreadable files
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"{path}: not a readable tokenizer ({first}); export the model again") from err
        self._tokenizer.no_padding()
        self.pad_token_id = self._pad_token_id(folder)

    def _pad_token_id(self, folder: Path) -> int:
        try:
            token = json.loads((folder / TOKENIZER_CONFIG_FILE).read_text(encoding="utf-8")).get("pad_token")
        except (OSError, ValueError, AttributeError):
            token = None
        if isinstance(token, dict):
            token = token.get("content")
        found = self._tokenizer.token_to_id(token) if isinstance(token, str) else None
        return found if found is not None else 0

    def __call__(self, texts: list[str], truncation: bool = True, max_length: int | None = None) -> dict[str, Any]:
        if truncation and max_length:
            self._tokenizer.enable_truncation(max_length)
        else:
            self._tokenizer.no_truncation()
        return {"input_ids": [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]}


class OnnxPredictor(Predictor):
    """The torch `Predictor`'s interface (`score`, `tag_articles`, ...) on an ONNX Runtime session."""

    backend = "onnxruntime"

    def __init__(
        self,
        session,
        tokenizer,
        meta: ArtifactMeta,
        info: dict[str, Any],
        *,
        precision: str | None = None,
        batch_size: int | None = None,
        device: str = "auto",
        thresholds: dict[str, float] | None = None,
    ) -> None:
        quantization = info.get("quantization")
        if device not in ("auto", "cpu"):
            raise UserError(f"--device {device}: an ONNX export runs on the CPU; use the torch model for a GPU")
        if precision not in (None, "auto") and not (precision == "fp32" and quantization is None):
            raise UserError(
                f"--precision {precision}: this ONNX export is fixed at {quantization or 'fp32'}; "
                "drop --precision, or use the torch model directory"
            )
        self.session = session
        self.tokenizer = tokenizer
        self.meta = meta
        self.info = info
        self.precision = quantization or "fp32"
        self.batch_size = batch_size or meta.config.inference.batch_size
        self.max_length = meta.config.model.max_length
        self.thresholds = {**meta.thresholds, **(thresholds or {})}
        self.truncated = 0

    @classmethod
    def from_directory(cls, folder: str | Path, **options: Any) -> OnnxPredictor:
        meta = read_meta(folder)
        info = read_export_info(Path(folder))
        check_export_folder(Path(folder), meta)
        session = open_session(Path(folder) / ONNX_FILE, meta)
        tokenizer = FastTokenizer(Path(folder))
        return cls(session, tokenizer, meta, info, **options)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        topic_logits, tone_logits = self.session.run(
            list(OUTPUT_NAMES), {INPUT_NAMES[0]: input_ids, INPUT_NAMES[1]: attention_mask}
        )
        return topic_logits, tone_logits
