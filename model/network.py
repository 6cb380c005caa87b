"""The tagger: one pretrained encoder, mean pooling, a multi-label topic head and a tone head."""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig
from transformers.utils import logging as hf_logging

from stancetag.errors import UserError
from stancetag.model.encoders import PARTS_PREFIX, resolve_parts

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


class StanceTagger(nn.Module):
    """Shared encoder; topics via independent sigmoids, tone via a softmax."""

    def __init__(self, encoder: nn.Module, n_topics: int, n_tones: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.topic_head = nn.Linear(hidden, n_topics)
        self.tone_head = nn.Linear(hidden, n_tones)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # Mean pooling over real tokens: the objective the MiniLM sentence encoder was trained with.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        pooled = self.dropout(pooled)
        return self.topic_head(pooled), self.tone_head(pooled)


def load_pretrained(name: str, n_topics: int, n_tones: int, dropout: float):
    """A new tagger on top of pretrained weights, and its tokenizer."""
    source = resolve_base_model(name)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # unused pooler weights are expected, not news to the user
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        encoder = AutoModel.from_pretrained(source, add_pooling_layer=False)
    except (OSError, ValueError) as err:
        raise UserError(
            f"model.base_model {name!r}: could not load a pretrained model from {source} "
            f"({str(err).splitlines()[0]}); give a local Hugging Face folder"
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return StanceTagger(encoder, n_topics, n_tones, dropout), tokenizer


def build_from_config(encoder_config: PretrainedConfig, n_topics: int, n_tones: int) -> StanceTagger:
    """An uninitialised tagger with the shape described by a saved encoder config."""
    encoder = AutoModel.from_config(encoder_config, add_pooling_layer=False)
    return StanceTagger(encoder, n_topics, n_tones, dropout=0.0)


def load_encoder_config(folder: Path) -> PretrainedConfig:
    return AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
