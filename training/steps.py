"""One training epoch and what it needs: padded batches, length buckets, optimizer, schedule, DDP."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from stancetag.config import Config
from stancetag.launch import Launch
from stancetag.model import distributed
from stancetag.model.network import StanceTagger
from stancetag.model.predictor import pad_ids
from stancetag.model.torch_backend import resolve_precision, to_device
from stancetag.training.frozen import pad_states


@dataclass
class Encoded:
    """Token ids and label tensors of a labeled split."""

    ids: list[list[int]]
    topics: torch.Tensor  # (n, n_topics) float 0/1
    tones: torch.Tensor  # (n,) long
    # With training.trained_layers: each sentence's token vectors after the frozen layers
    # (stancetag.training.frozen); steps then start from these instead of the token ids.
    states: list[torch.Tensor] | None = None


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The predictor's dynamic padding, as torch tensors."""
    input_ids, mask = pad_ids(ids, pad_id)
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


def build_optimizer(tagger: StanceTagger, config: Config) -> torch.optim.Optimizer:
    t = config.training
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in tagger.named_parameters():
        if not param.requires_grad:  # frozen lower layers (training.trained_layers)
            continue
        is_head = not name.startswith("encoder.")
        decays = not any(name.endswith(n) for n in no_decay)
        groups.setdefault((is_head, decays), []).append(param)
    # Fused AdamW updates every parameter in one kernel (one launch per step on a GPU; README,
    # "Performance", has the CPU timing).
    fused = next(tagger.parameters()).device.type in ("cpu", "cuda")
    return torch.optim.AdamW(
        fused=fused or None,
        params=[
            {
                "params": params,
                "lr": t.head_learning_rate if is_head else t.learning_rate,
                "weight_decay": t.weight_decay if decays else 0.0,
            }
            for (is_head, decays), params in groups.items()
        ],
    )


def parallel(module: nn.Module, device: torch.device, launch: Launch) -> nn.Module:
    """The module the training steps call (the tagger, or its upper layers): itself, or DDP around it.

    DDP shares the tagger's parameters, so `tagger.state_dict()` (checkpoints, the artifact) never
    carries DDP's "module." prefix.
    """
    if not launch.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def length_bucketed_batches(ids: list[list[int]], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled batches of similar-length sentences: less padding, still a random order.

    The data is shuffled, cut into pools of 50 batches, each pool sorted by length and cut into
    batches, and the batches shuffled again, all from the seeded generator.
    """
    order = torch.randperm(len(ids), generator=generator).tolist()
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(ids[i]))
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def run_epoch(
    model: nn.Module,
    data: Encoded,
    config: Config,
    optimizer,
    scheduler,
    shuffler,
    pad_id: int,
    progress: bool,
    epoch: int,
    topic_loss,
    tone_loss,
    launch: Launch = Launch(),
) -> tuple[float, int]:
    """One pass over the shuffled training data; the mean loss and the sentences seen, all processes together.

    Every process draws the same batches from the same seeded generator and runs its own share.
    """
    t = config.training
    model.train()
    batches = distributed.share(length_bucketed_batches(data.ids, t.batch_size, shuffler), launch)
    device = next(model.parameters()).device
    use_bf16 = resolve_precision(t.precision, device) == "bf16"
    losses: list[torch.Tensor] = []
    steps = tqdm(
        batches,
        desc=f"epoch {epoch}",
        leave=False,
        disable=not progress,
        file=sys.stderr,
    )
    for batch in steps:
        if data.states is not None:
            inputs = pad_states([data.states[i] for i in batch])
        else:
            inputs = pad_batch([data.ids[i] for i in batch], pad_id)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            topic_logits, tone_logits = model(*(to_device(x, device) for x in inputs))
        loss = topic_loss(topic_logits.float(), to_device(data.topics[batch], device)) + t.tone_loss_weight * tone_loss(
            tone_logits.float(), to_device(data.tones[batch], device)
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())  # no .item() per step: on a GPU it would wait for every step to finish
        if progress and len(losses) % 10 == 0:
            steps.set_postfix(loss=f"{torch.stack(losses[-20:]).mean().item():.3f}")
    values = torch.stack(losses).cpu().tolist()
    seen = sum(len(b) for b in batches)
    if not launch.distributed:
        return float(np.mean(values)), seen
    total, count, seen_all = distributed.sum_across([sum(values), len(values), seen], device)
    return total / count, int(seen_all)
