"""Checks on a model folder made before anything in it is loaded: a folder is data, never code.

Three kinds of folder pass through here: a trained stancetag folder (`artifact`), an ONNX export
(`onnx_backend`) and a base-model folder for training (`network.load_pretrained`). Each is refused
with one line, before `from_pretrained` or ONNX Runtime sees it, when it

- names custom code: a `*.py` file beside the model, an `auto_map` key in `config.json` or
  `tokenizer_config.json` (what makes transformers offer to run a folder's code), or a model type,
  architecture or tokenizer class that transformers does not ship;
- lacks a file the folder's kind always holds (a missing `tokenizer.json` would otherwise load a
  fallback tokenizer that tags everything neutral);
- gives encoder sizes that are not positive, do not fit together, would not fit in memory, or a
  `max_length` beyond the encoder's position embeddings.

Importing this module imports neither torch nor transformers: the ONNX path must stay without them,
so the class-name check (which asks transformers) is only made where transformers loads the folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stancetag.errors import UserError
from stancetag.model.meta import META_FILE, required_file
from stancetag.paths import OutputKind, check_output, holds_files
from stancetag.readers import read_json_file

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

CUSTOM_CODE_FIX = "remove it, or use a model folder without custom code (stancetag never runs a model folder's code)"
SIZE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
)
# Encoders whose position ids start after the padding id (RoBERTa's scheme): pad_token_id + 1 of
# their max_position_embeddings are never used by a token.
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet")
BYTES_PER_PARAMETER = 4  # fp32, as from_pretrained builds the model
_CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def require_files(folder: Path, files: dict[str, str], fix: str) -> None:
    """Every file in `files` (name -> what it is) is in `folder`, else one line naming the first missing."""
    for name, what in files.items():
        required_file(folder, name, what, fix)


def _auto_map_key(value: Any) -> str | None:
    """The dotted key of the first `auto_map` anywhere in a loaded JSON value (walked without recursion)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        prefix, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                dotted = f"{prefix}{key}"
                if key == "auto_map":
                    return dotted
                stack.append((dotted + ".", child))
        elif isinstance(item, list):
            stack.extend((f"{prefix.rstrip('.')}[{i}].", child) for i, child in enumerate(item))
    return None


def _json_object(path: Path, fix: str) -> dict[str, Any]:
    raw = read_json_file(path, fix)
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(raw).__name__}; {fix}")
    return raw


def refuse_custom_code(folder: Path, *, class_names: bool = True, own_classes: Iterable[str] = ()) -> None:
    """Refuse a folder that names custom code; `class_names` also checks that every model type,
    architecture and tokenizer class it names is one transformers ships (or one of `own_classes`)."""
    for path in sorted(folder.glob("*.py")):
        raise UserError(f"{path}: Python code in a model folder; {CUSTOM_CODE_FIX}")
    found: dict[str, dict[str, Any]] = {}
    for name in (CONFIG_FILE, TOKENIZER_CONFIG_FILE):
        path = folder / name
        if not path.is_file():
            continue
        raw = found[name] = _json_object(path, "copy the model folder again")
        key = _auto_map_key(raw)
        if key is not None:
            raise UserError(f"{path}: `{key}` names custom code to run; {CUSTOM_CODE_FIX}")
    if class_names:
        for problem in _unknown_classes(found, set(own_classes)):
            raise UserError(f"{folder / problem[0]}: {problem[1]}; {CUSTOM_CODE_FIX}")


def _unknown_classes(found: dict[str, dict[str, Any]], own: set[str]) -> Iterable[tuple[str, str]]:
    """(file, what) for each class a folder names that transformers cannot build without the folder's code."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.tokenization_auto import tokenizer_class_from_name

    def shipped(name: str) -> Any:
        return name in own or getattr(transformers, name, None)

    config = found.get(CONFIG_FILE, {})
    # The config itself and its sub-configs (a stancetag config's `encoder`), each with its own model_type.
    configs = [("", config)] + [(f"{k}.", v) for k, v in config.items() if isinstance(v, dict) and "model_type" in v]
    for prefix, part in configs:
        model_type = part.get("model_type")
        if model_type is not None and not (isinstance(model_type, str) and model_type in CONFIG_MAPPING):
            yield CONFIG_FILE, f"`{prefix}model_type` {model_type!r} is not a model type transformers ships"
        architectures = part.get("architectures") or []
        for name in architectures if isinstance(architectures, list) else [architectures]:
            if not _resolves(name, shipped):
                yield CONFIG_FILE, f"`{prefix}architectures` names {name!r}, not a class transformers ships"
    tokenizer_class = found.get(TOKENIZER_CONFIG_FILE, {}).get("tokenizer_class")
    if tokenizer_class is not None and not _resolves(tokenizer_class, tokenizer_class_from_name):
        yield TOKENIZER_CONFIG_FILE, f"`tokenizer_class` {tokenizer_class!r} is not a tokenizer transformers ships"


def _resolves(name: Any, lookup: Callable[[str], Any]) -> bool:
    """`name` is a plain class name that `lookup` finds in transformers."""
    if not (isinstance(name, str) and _CLASS_NAME.fullmatch(name)):
        return False
    try:
        return bool(lookup(name))
    except Exception:  # a shipped class whose optional dependency is missing: loading it will say so
        return True


def physical_memory() -> int | None:
    """This machine's RAM in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def parameter_count(sizes: dict[str, int]) -> int:
    """About how many weights a BERT-shaped encoder of these sizes has (embeddings, then per layer
    four hidden x hidden attention matrices and two hidden x intermediate feed-forward ones)."""
    hidden = sizes.get("hidden_size", 0)
    intermediate = sizes.get("intermediate_size", 4 * hidden)
    embeddings = (sizes.get("vocab_size", 0) + sizes.get("max_position_embeddings", 0)) * hidden
    return embeddings + sizes.get("num_hidden_layers", 0) * (4 * hidden * hidden + 2 * hidden * intermediate)


def check_encoder_sizes(path: Path, encoder: dict[str, Any], fix: str, *, key_prefix: str = "") -> None:
    """The encoder's sizes in `path` are positive whole numbers that fit together, and the weights fit
    in memory: the bound is the fp32 size of `parameter_count` against the machine's physical RAM."""
    sizes: dict[str, int] = {}
    for key in SIZE_KEYS:
        if key not in encoder:
            continue
        value = encoder[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{path}: `{key_prefix}{key}` is {value!r}, expected a positive whole number; {fix}")
        sizes[key] = value
    hidden, heads = sizes.get("hidden_size"), sizes.get("num_attention_heads")
    if hidden and heads and hidden % heads:
        raise UserError(
            f"{path}: `{key_prefix}hidden_size` {hidden} is not a multiple of `{key_prefix}num_attention_heads` "
            f"{heads}; {fix}"
        )
    need, memory = parameter_count(sizes) * BYTES_PER_PARAMETER, physical_memory()
    if memory and need > memory:
        shown = ", ".join(f"{key}={value}" for key, value in sizes.items())
        raise UserError(
            f"{path}: the encoder's sizes ({shown}) need about {need / 2**30:,.0f} GiB for the weights alone, "
            f"more than this machine's {memory / 2**30:,.0f} GiB of memory; {fix}"
        )


def usable_positions(encoder: dict[str, Any]) -> int | None:
    """How many tokens one sentence may have for the encoder's position embeddings (None: no limit stated)."""
    positions = encoder.get("max_position_embeddings")
    if isinstance(positions, bool) or not isinstance(positions, int):
        return None
    if encoder.get("model_type") in OFFSET_POSITIONS:
        pad = encoder.get("pad_token_id")
        positions -= (pad if isinstance(pad, int) and not isinstance(pad, bool) else 1) + 1
    return positions


def encoder_of(path: Path, config: dict[str, Any], fix: str) -> dict[str, Any]:
    """The encoder's config inside a stancetag `config.json` (its `encoder` object)."""
    encoder = config.get("encoder")
    if not isinstance(encoder, dict):
        raise UserError(f"{path}: no `encoder` object with the encoder's sizes; {fix}")
    return encoder


def check_stancetag_config(path: Path, config: dict[str, Any], max_length: int, source: Path, fix: str) -> None:
    """A stancetag folder's `config.json`: sane encoder sizes, and the `max_length` that predict cuts
    sentences to (from `source`, the folder's stancetag.json) within the encoder's positions."""
    encoder = encoder_of(path, config, fix)
    check_encoder_sizes(path, encoder, fix, key_prefix="encoder.")
    positions = usable_positions(encoder)
    if positions is not None and max_length > positions:
        raise UserError(
            f"{source}: model.max_length {max_length} is more than the {positions} token positions of the encoder "
            f"(`encoder.max_position_embeddings` in {path.name}); {fix}"
        )


MODEL_FOLDER = OutputKind("model folder", folder=True, is_own=holds_files(META_FILE, WEIGHTS_FILE))


def check_model_output(
    output: Path, base_model: str, data: Iterable[Path | None] = (), *, force: bool = False
) -> None:
    """Where `train` may write its model folder (see `stancetag.paths`): not over its data, not over
    a local base-model folder, and new, empty or an earlier model folder unless `force`. Light (no
    torch), so the CLI refuses before importing the training stack."""
    base = Path(base_model)
    keep = [base] if base.is_dir() else []
    check_output(output, MODEL_FOLDER, inputs=[p for p in data if p is not None], keep=keep, force=force)
