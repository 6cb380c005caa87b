"""The trained-model directory: safetensors weights, tokenizer, encoder config and stancetag.json.

Loading never unpickles and never runs code from the directory: weights come from safetensors,
the encoder is rebuilt from its JSON config with `trust_remote_code=False`, and `stancetag.json` is
validated before anything in it is used.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from stancetag.errors import UserError
from stancetag.model.meta import META_FILE, ArtifactMeta, read_meta
from stancetag.model.network import StanceTagger, build_from_config, load_encoder_config

WEIGHTS_FILE = "model.safetensors"
ENCODER_CONFIG_FILE = "config.json"


def save_artifact(folder: Path, tagger: StanceTagger, tokenizer: PreTrainedTokenizerBase, meta: ArtifactMeta) -> None:
    """Write the model into `folder`; the caller provides a fresh (temporary) folder."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in tagger.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    tagger.encoder.config.to_json_file(str(folder / ENCODER_CONFIG_FILE))
    tokenizer.save_pretrained(str(folder))
    (folder / META_FILE).write_text(json.dumps(meta.to_json(), indent=2) + "\n", encoding="utf-8")


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
