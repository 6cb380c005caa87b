"""The one configuration object: loaded from YAML, validated against the dataclasses, frozen.

Every key is required (except the few added after the first release, which default to what older
versions did) and unknown keys are an error, so that a typo in a YAML file never silently falls back
to a default. Defaults live in `configs/default.yaml`, not in code; that file also ships
inside the package (`stancetag.configs`), so the CLI works outside a checkout. Relative paths in a
config file are relative to the file's folder, not to where `stancetag` runs.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stancetag.errors import UserError, did_you_mean


@dataclass(frozen=True)
class LabelsConfig:
    topics: tuple[str, ...]
    tones: tuple[str, ...]


@dataclass(frozen=True)
class ModelConfig:
    base_model: str
    max_length: int
    dropout: float


@dataclass(frozen=True)
class TrainingConfig:
    seed: int
    epochs: int
    batch_size: int
    learning_rate: float
    head_learning_rate: float
    weight_decay: float
    warmup_ratio: float
    patience: int
    dev_fraction: float
    tone_loss_weight: float
    label_smoothing: float
    precision: str
    # Optional (added in 0.2, so that older configs and model folders still load): only this many top
    # encoder layers learn, the embeddings and the layers below keep their pretrained weights
    # (stancetag.training.frozen); None: every layer learns.
    trained_layers: int | None = None
    # Optional, likewise: a trained stancetag model folder whose probabilities are blended into the
    # training targets with this weight (stancetag.training.distill); None: gold labels alone.
    teacher: str | None = None
    distill_weight: float = 0.5


@dataclass(frozen=True)
class DataConfig:
    train: str
    dev: str | None
    test: str | None


@dataclass(frozen=True)
class InferenceConfig:
    batch_size: int
    precision: str


@dataclass(frozen=True)
class Config:
    labels: LabelsConfig
    model: ModelConfig
    training: TrainingConfig
    data: DataConfig
    inference: InferenceConfig

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


PRECISIONS = ("auto", "fp32", "bf16")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check `value` against a type hint, converting lists to tuples and ints to floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
        origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise UserError(f"{source}: `{key}` must be a mapping of keys, found {value!r}")
        return _build(hint, value, key, source)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list) or not value:
            raise UserError(f"{source}: `{key}` must be a non-empty list, found {value!r}")
        items = tuple(_convert(v, item, f"{key}[{i}]", source) for i, v in enumerate(value))
        if len(set(items)) != len(items):
            raise UserError(f"{source}: `{key}` lists the same value twice: {list(items)}")
        return items
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise UserError(f"{source}: `{key}` must be of type {hint.__name__}, found {value!r}; fix the value")
    return value


def _build(cls: type, raw: dict[str, Any], prefix: str, source: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in names:
            raise UserError(
                f"{source}: unknown key `{_join(prefix, key)}`{did_you_mean(key, names)}; "
                f"allowed keys here: {', '.join(names)}"
            )
    values = {}
    for field in dataclasses.fields(cls):
        name = field.name
        if name not in raw:
            if field.default is not dataclasses.MISSING:
                continue
            raise UserError(f"{source}: missing required key `{_join(prefix, name)}`")
        values[name] = _convert(raw[name], hints[name], _join(prefix, name), source)
    return cls(**values)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def config_from_dict(raw: Any, source: str = "config") -> Config:
    """Validate a plain mapping (from YAML or a saved artifact) into a `Config`."""
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a mapping of sections, found {type(raw).__name__}")
    config = _build(Config, raw, "", source)
    _check_values(config, source)
    return config


def _check_values(config: Config, source: str) -> None:
    t = config.training
    checks = [
        (config.model.max_length >= 8, "model.max_length must be at least 8"),
        (0 <= config.model.dropout < 1, "model.dropout must be in [0, 1)"),
        (t.epochs >= 1, "training.epochs must be at least 1"),
        (t.batch_size >= 1, "training.batch_size must be at least 1"),
        (t.learning_rate > 0, "training.learning_rate must be positive"),
        (t.head_learning_rate > 0, "training.head_learning_rate must be positive"),
        (0 <= t.warmup_ratio < 1, "training.warmup_ratio must be in [0, 1)"),
        (t.patience >= 1, "training.patience must be at least 1"),
        (
            t.trained_layers is None or t.trained_layers >= 1,
            "training.trained_layers must be at least 1, or null to train every layer",
        ),
        (0 < t.distill_weight <= 1, "training.distill_weight must be in (0, 1]"),
        (0 < t.dev_fraction < 1, "training.dev_fraction must be in (0, 1)"),
        (0 <= t.label_smoothing < 1, "training.label_smoothing must be in [0, 1)"),
        (config.inference.batch_size >= 1, "inference.batch_size must be at least 1"),
        (
            config.inference.precision in PRECISIONS,
            f"inference.precision must be one of {', '.join(PRECISIONS)}",
        ),
        (len(config.labels.tones) >= 2, "labels.tones needs at least two tones"),
        (t.precision in PRECISIONS, f"training.precision must be one of {', '.join(PRECISIONS)}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(f"{source}: {message}")


LOCAL_DEFAULT = Path("configs/default.yaml")
PACKAGED_CONFIGS = "stancetag.configs"


def default_config_path() -> Path:
    """`configs/default.yaml` in the working directory (a checkout), else the copy shipped in the package."""
    if LOCAL_DEFAULT.is_file():
        return LOCAL_DEFAULT
    return Path(str(importlib.resources.files(PACKAGED_CONFIGS) / LOCAL_DEFAULT.name))


def _beside(folder: Path, value: str) -> str:
    """A relative path from a config file, made relative to that file's folder (normalised, so
    `configs/../seeds/train.jsonl` reads `seeds/train.jsonl`)."""
    return value if Path(value).is_absolute() else os.path.normpath(folder / value)


def resolve_paths(config: Config, folder: Path) -> Config:
    """Data paths and `training.teacher` relative to `folder`; `model.base_model` too when it names a
    folder there (else it stays a hub name, `pkg:` or `parts:` reference)."""
    data = config.data
    data = dataclasses.replace(
        data,
        train=_beside(folder, data.train),
        dev=_beside(folder, data.dev) if data.dev else data.dev,
        test=_beside(folder, data.test) if data.test else data.test,
    )
    base = config.model.base_model
    if ":" not in base and not Path(base).is_absolute() and (folder / base).is_dir():
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, base_model=_beside(folder, base)))
    if config.training.teacher:
        teacher = _beside(folder, config.training.teacher)
        config = dataclasses.replace(config, training=dataclasses.replace(config.training, teacher=teacher))
    return dataclasses.replace(config, data=data)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; its relative paths are resolved against its folder."""
    path = Path(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "missing"
        raise UserError(f"{path}: config file is {what}; pass an existing YAML file with --config")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{path}: not valid YAML ({first}); fix the syntax") from err
    return resolve_paths(config_from_dict(raw, str(path)), path.parent)


def with_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Apply dotted overrides such as {"training.epochs": 3}; the result is validated again."""
    raw = config.to_dict()
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if section not in raw or key not in raw[section]:
            raise UserError(f"unknown config key `{dotted}` in override")
        raw[section][key] = list(value) if isinstance(value, tuple) else value
    return config_from_dict(raw, "config (with command-line overrides)")
