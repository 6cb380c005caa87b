"""The trained-model directory: a Hugging Face model folder plus stancetag.json.

| file | what |
| --- | --- |
| `config.json` | `StancetagConfig`: labels, thresholds, tone temperature, pooling, the encoder's config |
| `model.safetensors` | encoder and both heads (`save_pretrained`) |
| `tokenizer.json`, `tokenizer_config.json` | the encoder's (fast) tokenizer and its settings |
| `stancetag.json` | the training record and the predict settings (`meta`), read without torch |
| `README.md` | the model card (written by training, `evaluation.card`) |

`MODEL_FILES` are the files `save_artifact` always writes; a folder without one of them is refused.
Loading never unpickles and never runs code from the directory: weights come from safetensors,
every `from_pretrained` passes `trust_remote_code=False`, a folder that names custom code is refused
before transformers reads it (`folder`), and `stancetag.json` and `config.json` are validated
(sizes included), and checked against each other, before anything in them is used or allocated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from stancetag.errors import UserError
from stancetag.model.folder import (
    CONFIG_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    check_stancetag_config,
    refuse_custom_code,
    require_files,
)
from stancetag.model.meta import META_FILE, ArtifactMeta, read_meta
from stancetag.model.network import StancetagConfig, StanceTagger, quiet_transformers
from stancetag.readers import read_json_file

MODEL_FILES = {
    CONFIG_FILE: "model config",
    WEIGHTS_FILE: "weights file",
    TOKENIZER_FILE: "tokenizer file",
    TOKENIZER_CONFIG_FILE: "tokenizer settings",
}
MODEL_FIX = "copy the whole model directory or retrain"


def save_artifact(folder: Path, tagger: StanceTagger, tokenizer: PreTrainedTokenizerBase, meta: ArtifactMeta) -> None:
    """Write the model into `folder`; the caller provides a fresh (temporary) folder.

    The thresholds and temperature in `meta` go into the model config too, so a folder loaded with
    `AutoModel.from_pretrained` carries the same decisions as one loaded by stancetag.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tagger.config.thresholds = dict(meta.thresholds)
    tagger.config.tone_temperature = float(meta.tone_temperature)
    with quiet_transformers():
        tagger.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))
    (folder / META_FILE).write_text(json.dumps(meta.to_json(), indent=2) + "\n", encoding="utf-8")


def _read_config(folder: Path, meta: ArtifactMeta) -> StancetagConfig:
    path = folder / CONFIG_FILE
    raw = read_json_file(path, "the model directory is damaged, retrain")
    if not isinstance(raw, dict) or raw.get("model_type") != StancetagConfig.model_type:
        found = raw.get("model_type") if isinstance(raw, dict) else type(raw).__name__
        raise UserError(
            f"{path}: model_type {found!r}, expected {StancetagConfig.model_type!r} "
            "(a folder from an older stancetag or another model); retrain the model with this version"
        )
    check_stancetag_config(
        path, raw, meta.config.model.max_length, folder / META_FILE, "the model directory is damaged, retrain"
    )
    try:
        config = StancetagConfig.from_pretrained(str(folder), trust_remote_code=False)
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"{path}: not a valid stancetag config ({str(err).splitlines()[0]}); retrain") from err
    _check_agreement(path, config, meta)
    return config


def _check_agreement(path: Path, config: StancetagConfig, meta: ArtifactMeta) -> None:
    """config.json and stancetag.json describe the same model (else the folder mixes two models)."""
    pairs: list[tuple[str, Any, Any]] = [
        ("topics", list(config.topics or []), list(meta.topics)),
        ("tones", list(config.tones or []), list(meta.tones)),
        ("thresholds", config.thresholds, meta.thresholds),
        ("tone_temperature", config.tone_temperature, meta.tone_temperature),
    ]
    for name, here, there in pairs:
        if here != there:
            raise UserError(
                f"{path}: `{name}` is {here!r} but {META_FILE} says {there!r}; the directory mixes files of "
                "different models, copy it again or retrain"
            )


def load_artifact(folder: str | Path) -> tuple[StanceTagger, PreTrainedTokenizerBase, ArtifactMeta]:
    """Rebuild the tagger from a model directory, validating every file on the way."""
    meta = read_meta(folder)
    require_files(Path(folder), MODEL_FILES, MODEL_FIX)
    refuse_custom_code(Path(folder), own_classes=[StanceTagger.__name__])
    weights = Path(folder) / WEIGHTS_FILE
    config = _read_config(Path(folder), meta)
    try:
        with safe_open(str(weights), framework="pt") as handle:
            handle.keys()
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"{weights}: corrupted weights file ({err}); retrain or copy it again") from err
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{folder}: tokenizer unreadable ({str(err).splitlines()[0]}); retrain") from err
    try:
        with quiet_transformers():
            tagger, info = StanceTagger.from_pretrained(
                str(folder), config=config, trust_remote_code=False, output_loading_info=True
            )
    except (RuntimeError, ValueError, OSError) as err:
        raise UserError(
            f"{weights}: weights do not match the model's shape ({str(err).splitlines()[0]}); "
            "the directory mixes files of different models, retrain"
        ) from err
    problems = {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v} | (
        {"errors": info["error_msgs"]} if info.get("error_msgs") else {}
    )
    if problems:
        first = next(iter(problems.items()))
        raise UserError(
            f"{weights}: weights do not match the model's shape ({first[0]}: {first[1][:3]}); "
            "the directory mixes files of different models, retrain"
        )
    tagger.eval()
    return tagger, tokenizer, meta
