"""The trained-model directory: safetensors weights, tokenizer, encoder config and stancetag.json.

Loading never unpickles and never runs code from the directory: weights come from safetensors,
the encoder is rebuilt from its JSON config with `trust_remote_code=False`, and `stancetag.json` is
validated before anything in it is used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from model.network import StanceTagger, build_from_config, load_encoder_config
from stancetag.config import Config, config_from_dict
from stancetag.errors import UserError

FORMAT_VERSION = 1
META_FILE = "stancetag.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_CONFIG_FILE = "config.json"


@dataclass
class ArtifactMeta:
    """Everything `predict` and `metrics` need to know about a trained model, besides weights."""

    config: Config
    thresholds: dict[str, float]
    base_model: str
    # Tone logits are divided by this before the softmax (temperature scaling fitted on dev), so
    # that tone confidences match observed accuracy; it never changes which tone wins.
    tone_temperature: float = 1.0
    data: dict[str, Any] = field(default_factory=dict)
    dev_metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def topics(self) -> tuple[str, ...]:
        return self.config.labels.topics

    @property
    def tones(self) -> tuple[str, ...]:
        return self.config.labels.tones

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "labels": {"topics": list(self.topics), "tones": list(self.tones)},
            "thresholds": self.thresholds,
            "tone_temperature": self.tone_temperature,
            "base_model": self.base_model,
            "config": self.config.to_dict(),
            "data": self.data,
            "dev_metrics": self.dev_metrics,
            "versions": self.versions,
            "training": self.training,
        }


_META_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "labels": dict,
    "thresholds": dict,
    "tone_temperature": (int, float),
    "base_model": str,
    "config": dict,
    "data": dict,
    "dev_metrics": dict,
    "versions": dict,
    "training": dict,
}


def _meta_from_json(raw: Any, source: Path) -> ArtifactMeta:
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a JSON object; the model directory is damaged")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(
            f"{source}: model format version {version!r}, this stancetag reads version "
            f"{FORMAT_VERSION}; retrain the model with this version"
        )
    for key, kind in _META_SCHEMA.items():
        if not isinstance(raw.get(key), kind):
            raise UserError(f"{source}: field `{key}` is missing or of the wrong type; retrain the model")
    config = config_from_dict(raw["config"], f"{source} (config)")
    labels = raw["labels"]
    if labels.get("topics") != list(config.labels.topics) or labels.get("tones") != list(config.labels.tones):
        raise UserError(f"{source}: `labels` disagrees with the stored config; retrain the model")
    thresholds = raw["thresholds"]
    if set(thresholds) != set(config.labels.topics) or not all(
        isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in thresholds.values()
    ):
        raise UserError(f"{source}: `thresholds` must give a value in [0, 1] for every topic")
    if not 0.05 <= raw["tone_temperature"] <= 20:
        raise UserError(f"{source}: `tone_temperature` must be between 0.05 and 20; retrain the model")
    return ArtifactMeta(
        config=config,
        thresholds={t: float(thresholds[t]) for t in config.labels.topics},
        tone_temperature=float(raw["tone_temperature"]),
        base_model=raw["base_model"],
        data=raw["data"],
        dev_metrics=raw["dev_metrics"],
        versions=raw["versions"],
        training=raw["training"],
    )


def save_artifact(folder: Path, tagger: StanceTagger, tokenizer: PreTrainedTokenizerBase, meta: ArtifactMeta) -> None:
    """Write the model into `folder`; the caller provides a fresh (temporary) folder."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in tagger.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    tagger.encoder.config.to_json_file(str(folder / ENCODER_CONFIG_FILE))
    tokenizer.save_pretrained(str(folder))
    (folder / META_FILE).write_text(json.dumps(meta.to_json(), indent=2) + "\n", encoding="utf-8")


def read_meta(folder: str | Path) -> ArtifactMeta:
    folder = Path(folder)
    if not folder.is_dir():
        hint = "it is a file" if folder.exists() else "no such directory"
        raise UserError(f"{folder}: not a model directory ({hint}); train one with `stancetag train`")
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise UserError(
            f"{folder}: no {META_FILE} in this directory; it is not a stancetag model "
            "(train one with `stancetag train --output DIR`)"
        )
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{meta_path}: not valid JSON ({err}); the model directory is damaged") from err
    return _meta_from_json(raw, meta_path)


def load_artifact(folder: str | Path) -> tuple[StanceTagger, PreTrainedTokenizerBase, ArtifactMeta]:
    """Rebuild the tagger from a model directory, validating every file on the way."""
    folder = Path(folder)
    meta = read_meta(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise UserError(f"{weights}: weights file missing; copy the whole model directory or retrain")
    try:
        encoder_config = load_encoder_config(folder)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as err:
        raise UserError(
            f"{folder}: encoder config or tokenizer unreadable ({str(err).splitlines()[0]}); retrain"
        ) from err
    tagger = build_from_config(encoder_config, len(meta.topics), len(meta.tones))
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise UserError(f"{weights}: corrupted weights file ({err}); retrain or copy it again") from err
    try:
        tagger.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise UserError(
            f"{weights}: weights do not match the model's shape; the directory mixes files of different models, retrain"
        ) from err
    tagger.eval()
    return tagger, tokenizer, meta


def publish_directory(staging: Path, destination: Path) -> None:
    """Move a finished staging directory into place, replacing any previous model atomically enough:
    the old directory is renamed aside first and removed only after the new one is in place."""
    backup = None
    if destination.exists():
        backup = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
        os.rmdir(backup)
        os.replace(destination, backup)
    os.replace(staging, destination)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def staging_directory(destination: Path) -> Path:
    """A fresh temporary directory beside `destination` (same file system, so rename is atomic)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
