"""The tagger as a Hugging Face model: one pretrained encoder, mean pooling, a multi-label topic head
and a tone head.

`StancetagConfig` (model_type "stancetag") holds the label sets, the per-topic thresholds, the tone
temperature, the pooling and the encoder's own config; `StanceTagger` is a `PreTrainedModel`, so a
model folder is written with `save_pretrained` (safetensors) and read with `from_pretrained`.
Importing this module registers both with `AutoConfig` and `AutoModel`; `import stancetag` arranges
that import for when transformers is imported (see `stancetag.model`), so
`AutoModel.from_pretrained(folder)` works without `trust_remote_code`.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedConfig, PreTrainedModel
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import logging as hf_logging

from stancetag.config import Config
from stancetag.errors import UserError
from stancetag.model.encoders import PARTS_PREFIX, resolve_parts
from stancetag.model.folder import (
    CONFIG_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    check_encoder_sizes,
    refuse_custom_code,
    usable_positions,
)
from stancetag.model.meta import required_file
from stancetag.readers import read_json_file

PACKAGE_PREFIX = "pkg:"

log = logging.getLogger(__name__)


def resolve_base_model(name: str) -> str:
    """Turn the config's `model.base_model` into something `from_pretrained` can load.

    `pkg:MODULE/FOLDER` is a model folder shipped inside an installed Python package (the default
    MiniLM); `parts:NAME` a zipped folder split over several packages (`encoders`); an existing
    local folder is used as is; anything else is passed on as a hub name.
    """
    if name.startswith(PARTS_PREFIX):
        return resolve_parts(name)
    if name.startswith(PACKAGE_PREFIX):
        module, _, folder = name[len(PACKAGE_PREFIX) :].partition("/")
        try:
            root = importlib.resources.files(module)
        except ModuleNotFoundError as err:
            raise UserError(
                f"model.base_model {name!r}: the Python package {module!r} is not installed; "
                f"pip install {module.replace('_', '-')} or point model.base_model at a folder"
            ) from err
        path = Path(str(root / folder)) if folder else Path(str(root))
        if not (path / "config.json").is_file():
            raise UserError(f"model.base_model {name!r}: {path} holds no config.json")
        return str(path)
    return name


POOLINGS = ("mean",)


@strict
class StancetagConfig(PreTrainedConfig):
    """What rebuilds a trained tagger: label sets, decisions and the encoder's config.

    topics / tones: the label sets, in the order of the heads' outputs.
    thresholds: per-topic probability at or above which a topic is on (tuned on dev).
    tone_temperature: tone logits are divided by it before the softmax (fitted on dev).
    pooling: how token vectors become one sentence vector ("mean" over real tokens).
    dropout: on the pooled vector while training. max_length: tokens per sentence the model was trained on.
    encoder: the pretrained encoder's config (e.g. a BertConfig).
    """

    model_type = "stancetag"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PreTrainedConfig | dict | None = None
    topics: list[str] | None = None
    tones: list[str] | None = None
    thresholds: dict[str, float] | None = None
    tone_temperature: float = 1.0
    pooling: str = "mean"
    dropout: float = 0.0
    max_length: int = 128


class StanceTagger(PreTrainedModel):
    """Shared encoder; topics via independent sigmoids, tone via a softmax.

    `forward(input_ids, attention_mask)` returns (topic_logits, tone_logits). Probabilities:
    `sigmoid(topic_logits)` compared with `config.thresholds`, and
    `softmax(tone_logits / config.tone_temperature)`; `stancetag.Tagger` does this for you.
    """

    config_class = StancetagConfig
    config: StancetagConfig
    base_model_prefix = "stancetag"
    main_input_name = "input_ids"
    _supports_sdpa = True

    def __init__(self, config: StancetagConfig, encoder: PreTrainedModel | None = None) -> None:
        super().__init__(config)
        if config.pooling not in POOLINGS:
            raise UserError(f"pooling {config.pooling!r}: this stancetag pools with {', '.join(POOLINGS)}; retrain")
        if not config.topics or not config.tones:
            raise UserError("the model config names no topics or tones; retrain the model")
        if encoder is None:
            encoder = AutoModel.from_config(config.encoder, add_pooling_layer=False)
        # One config object for the encoder, as in transformers' composite models, with the attention
        # implementation the encoder was built with (a fresh StancetagConfig resets it to None).
        config.encoder._attn_implementation = encoder.config._attn_implementation
        encoder.config = config.encoder
        self.encoder = encoder
        hidden = config.encoder.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.topic_head = nn.Linear(hidden, len(config.topics))
        self.tone_head = nn.Linear(hidden, len(config.tones))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # The heads keep torch's default initialisation from their constructors (the same random
        # draws as before this class was a PreTrainedModel); the encoder initialises itself.
        pass

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return self.classify(hidden, attention_mask)

    def classify(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Topic and tone logits from the encoder's last token vectors (batch, tokens, hidden)."""
        # Mean pooling over real tokens: the objective the sentence encoders were trained with.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return self.topic_head(pooled), self.tone_head(pooled)


AutoConfig.register(StancetagConfig.model_type, StancetagConfig, exist_ok=True)
AutoModel.register(StancetagConfig, StanceTagger, exist_ok=True)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or notes from transformers (unused pooler weights, shard writing): not the user's business."""
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def check_base_model_folder(folder: Path, name: str, max_length: int, *, pinned: bool = False) -> None:
    """A local base-model folder is data: no custom code, a config.json whose sizes fit in memory,
    and enough position embeddings for `model.max_length`; checked before transformers reads it.

    `pinned`: a split encoder (`parts:`), whose content was checked against a SHA-256 when it was
    assembled; its files are known, so the custom-code check is skipped (the hub repository of
    all-mpnet-base-v2 carries a `train_script.py` that transformers never loads).
    """
    path = required_file(folder, CONFIG_FILE, "model config", f"point model.base_model ({name!r}) at a model folder")
    if not pinned:
        refuse_custom_code(folder)
        if not any((folder / name).is_file() for name in (TOKENIZER_FILE, TOKENIZER_CONFIG_FILE)):
            raise UserError(
                f"{folder}: the base model holds neither {TOKENIZER_FILE} nor {TOKENIZER_CONFIG_FILE}, so its "
                "tokenizer's settings (casing, special tokens, length) would be guessed; copy them from where "
                f"the model came from, or point model.base_model ({name!r}) at a complete folder"
            )
        if not any(folder.glob("*.safetensors")):
            pickled = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
            found = f"only {', '.join(pickled)}, pickled weights" if pickled else "no weights file"
            raise UserError(
                f"{folder}: the base model holds {found}; stancetag loads weights from safetensors only "
                f"(a pickle can run code): point model.base_model ({name!r}) at a folder with model.safetensors"
            )
    raw = read_json_file(path, f"point model.base_model ({name!r}) at another model folder")
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object; point model.base_model ({name!r}) at another model folder")
    check_encoder_sizes(path, raw, f"point model.base_model ({name!r}) at another model folder")
    positions = usable_positions(raw)
    if positions is not None and max_length > positions:
        raise UserError(
            f"{path}: the base model has {positions} token positions (`max_position_embeddings`), fewer than "
            f"model.max_length {max_length}; set model.max_length to at most {positions} or choose another base model"
        )


def load_pretrained(config: Config) -> tuple[StanceTagger, object]:
    """A new tagger on top of the pretrained encoder `model.base_model`, and its tokenizer.

    Thresholds start at 0.5 and the temperature at 1; training tunes both and stores them.
    """
    name = config.model.base_model
    source = resolve_base_model(name)
    if Path(source).is_dir():
        check_base_model_folder(Path(source), name, config.model.max_length, pinned=name.startswith(PARTS_PREFIX))
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
            encoder = AutoModel.from_pretrained(source, add_pooling_layer=False, trust_remote_code=False)
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        raise UserError(
            f"model.base_model {name!r}: could not load a pretrained model from {source} "
            f"({str(err).splitlines()[0]}); give a local Hugging Face folder"
        ) from err
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(
            f"model.base_model {name!r}: its tokenizer has no fast form (tokenizer.json), which a stancetag "
            "model folder and its ONNX export are tagged with; choose a base model that has one"
        )
    topics, tones = list(config.labels.topics), list(config.labels.tones)
    encoder_config = encoder.config.to_dict()
    encoder_config.pop("_name_or_path", None)  # a local path (site-packages, a temp folder): not part of the model
    tagger_config = StancetagConfig(
        encoder=encoder_config,
        topics=topics,
        tones=tones,
        thresholds=dict.fromkeys(topics, 0.5),
        tone_temperature=1.0,
        pooling="mean",
        dropout=config.model.dropout,
        max_length=config.model.max_length,
    )
    return StanceTagger(tagger_config, encoder=encoder), tokenizer
