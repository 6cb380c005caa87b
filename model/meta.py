"""A model directory's description, `stancetag.json`: label sets, thresholds, temperature, config,
data fingerprints. Read and validated without torch, so the ONNX predictor never imports it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stancetag.config import Config, config_from_dict
from stancetag.errors import UserError
from stancetag.readers import read_json_file

# 2: the folder is a Hugging Face model (config.json of model_type "stancetag", save_pretrained);
# 1 held a bare encoder config beside prefixed weights and is refused with "retrain".
FORMAT_VERSION = 2
META_FILE = "stancetag.json"


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


def required_file(folder: Path, name: str, what: str, fix: str) -> Path:
    """`folder / name`, which a model or export folder must hold; missing, a one-line error with `fix`."""
    path = folder / name
    if not path.is_file():
        raise UserError(f"{path}: {what + ' ' if what else ''}missing; {fix}")
    return path


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
    return _meta_from_json(read_json_file(meta_path, "the model directory is damaged"), meta_path)


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a prediction: the folder's name and the SHA-256 of its weights file.

    `short` ("default@1a2b3c4d5e6f") goes on every record; the full hash and the path go in the
    `OUTPUT.model.json` sidecar. Retraining into the same folder changes the fingerprint, so a table
    of predictions can always be traced to the exact weights that made it.
    """

    name: str
    path: str
    weights_file: str
    sha256: str

    @property
    def short(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"


def model_identity(folder: str | Path, weights_file: str) -> ModelIdentity:
    folder = Path(folder)
    weights = folder / weights_file
    digest = hashlib.sha256()
    try:
        with weights.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise UserError(
            f"{weights}: cannot read the weights file ({err.strerror}); copy the whole model again"
        ) from err
    return ModelIdentity(folder.resolve().name, str(folder.resolve()), weights_file, digest.hexdigest())
