"""Training only the upper encoder layers, on token vectors the frozen lower layers compute once.

With `training.trained_layers: N` only the top N encoder layers learn. The embeddings and the
layers below keep their pretrained weights, so what they output for a sentence is the same in every
epoch: it is computed once, without gradients, and every training step runs only the upper layers,
the pooling and the heads. The cost of an epoch falls with the share of layers frozen, which is
what lets the 12-layer all-mpnet-base-v2 train in minutes on a CPU (README, "Encoders").

transformers has no call that starts a forward pass at a middle layer, so `UpperLayers` runs the
encoder's own layer stack (the `encoder.layer` list of BERT-, MPNet- and RoBERTa-style models) on
the slice above the frozen ones; the saved model is the whole tagger, and `predict` runs it as usual.
"""

from __future__ import annotations

import copy
import sys

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers.masking_utils import create_bidirectional_mask

from stancetag.errors import UserError
from stancetag.model.network import StanceTagger
from stancetag.model.predictor import pad_ids


def layer_stack(tagger: StanceTagger) -> nn.Module:
    """The encoder's stack of transformer layers (a module with a `layer` list), or a clear error."""
    stack = getattr(tagger.encoder, "encoder", None)
    if not isinstance(getattr(stack, "layer", None), nn.ModuleList):
        raise UserError(
            f"training.trained_layers: the base model ({type(tagger.encoder).__name__}) has no `encoder.layer` "
            "list of layers to split; set training.trained_layers to null to train every layer"
        )
    return stack


def frozen_layer_count(tagger: StanceTagger, trained_layers: int | None) -> int:
    """How many lowest layers stay frozen so that `trained_layers` learn: 0 (every layer and the
    embeddings learn) when it is None or at least the encoder's depth."""
    if trained_layers is None:
        return 0
    return max(0, len(layer_stack(tagger).layer) - trained_layers)


def freeze_lower_layers(tagger: StanceTagger, frozen: int) -> None:
    """Stop gradients to the embeddings and the lowest `frozen` layers (everything in the encoder
    outside the layers above them)."""
    layers = layer_stack(tagger).layer
    trained = {id(p) for layer in layers[frozen:] for p in layer.parameters()}
    for param in tagger.encoder.parameters():
        param.requires_grad_(id(param) in trained)


class UpperLayers(nn.Module):
    """The tagger from layer `first` up: token vectors and mask in, topic and tone logits out.

    `forward(hidden, attention_mask)` is what a training step calls instead of the tagger; the
    parameters are the tagger's own, so training this module trains the tagger.
    """

    def __init__(self, tagger: StanceTagger, first: int) -> None:
        super().__init__()
        self.tagger = tagger
        stack = layer_stack(tagger)
        # A shallow copy of the stack whose layer list starts at `first`; kept out of the module tree
        # (object.__setattr__) so its parameters are not listed twice.
        upper = copy.copy(stack)
        upper._modules = dict(stack._modules)
        upper.layer = nn.ModuleList(list(stack.layer)[first:])
        object.__setattr__(self, "_upper", upper)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = create_bidirectional_mask(
            config=self.tagger.encoder.config, inputs_embeds=hidden, attention_mask=attention_mask
        )
        output = self._upper(hidden, attention_mask=mask)
        last = output[0] if isinstance(output, tuple) else output.last_hidden_state
        return self.tagger.classify(last, attention_mask)


@torch.no_grad()
def lower_layer_states(
    tagger: StanceTagger,
    ids: list[list[int]],
    frozen: int,
    pad_id: int,
    batch_size: int,
    use_bf16: bool,
    progress: bool,
) -> list[torch.Tensor]:
    """Each sentence's token vectors after the embeddings and `frozen` layers, (tokens, hidden) each,
    kept on the tagger's device in bf16 when the run uses bf16 (half the memory), else fp32."""
    device = next(tagger.parameters()).device
    was_training = tagger.training
    tagger.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    states: list[torch.Tensor | None] = [None] * len(ids)
    dtype = torch.bfloat16 if use_bf16 else torch.float32
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="lower layers", unit="batch", leave=False, disable=not progress, file=sys.stderr):
        input_ids, mask = pad_ids([ids[i] for i in batch], pad_id)
        input_ids, mask = torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            hidden = tagger.encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        layer = hidden.hidden_states[frozen]
        for row, i in enumerate(batch):
            states[i] = layer[row, : len(ids[i])].to(dtype).clone()
    tagger.train(was_training)
    return states  # type: ignore[return-value]


def pad_states(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of cached token vectors padded to its longest sentence, and the attention mask."""
    lengths = torch.tensor([len(s) for s in states])
    hidden = nn.utils.rnn.pad_sequence(states, batch_first=True)
    mask = (torch.arange(hidden.shape[1])[None, :] < lengths[:, None]).long()
    return hidden, mask.to(hidden.device)
