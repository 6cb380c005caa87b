"""Fine-tuning: joint topic (BCE) and tone (cross-entropy) training with early stopping on dev."""

from __future__ import annotations

import copy
import logging
import platform
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

import stancetag
from stancetag.config import Config
from stancetag.errors import UserError
from stancetag.evaluation.calibration import apply_temperature, fit_temperature
from stancetag.evaluation.card import dev_details, group_counts, write_card
from stancetag.evaluation.metrics import headline, score
from stancetag.evaluation.thresholds import tune_thresholds
from stancetag.labeled import (
    Example,
    check_label_coverage,
    find_leaks,
    fingerprint,
    gold_arrays,
    leak_message,
    load_examples,
    split_by_article,
)
from stancetag.launch import Launch, launch_from_env
from stancetag.model import distributed
from stancetag.model.artifact import save_artifact
from stancetag.model.folder import check_model_output
from stancetag.model.meta import ArtifactMeta
from stancetag.model.network import StanceTagger, load_pretrained
from stancetag.model.predictor import encode_texts
from stancetag.model.torch_backend import TorchPredictor, choose_device, resolve_precision
from stancetag.training import checkpoint
from stancetag.training.checkpoint import checkpoint_directory
from stancetag.training.distill import distilled_targets
from stancetag.training.frozen import UpperLayers, freeze_lower_layers, frozen_layer_count, lower_layer_states
from stancetag.training.steps import Encoded, build_optimizer, parallel, run_epoch
from stancetag.writers import publish_directory, staging_directory

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    output: Path
    dev_metrics: dict[str, Any]
    best_epoch: int
    epochs_run: int
    seconds: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode(examples: list[Example], tokenizer, config: Config, name: str) -> Encoded:
    """Token ids (the predictor's tokenization) and label tensors of a training split."""
    ids, truncated = encode_texts(tokenizer, [e.text for e in examples], config.model.max_length)
    if truncated:
        log.warning(
            "%s: %d sentence(s) longer than model.max_length=%d tokens were truncated",
            name,
            truncated,
            config.model.max_length,
        )
    gold_topics, gold_tones = gold_arrays(examples, config.labels.topics, config.labels.tones)
    return Encoded(ids, torch.from_numpy(gold_topics).float(), torch.from_numpy(gold_tones).long())


def dev_predictor(tagger: StanceTagger, tokenizer, config: Config, device: torch.device) -> TorchPredictor:
    """The predictor `predict` will use, around the weights being trained: thresholds and temperature
    are not fitted yet (0.5 and 1), and fp32 keeps dev scores independent of the CPU's bf16 support."""
    meta = ArtifactMeta(config=config, thresholds=dict.fromkeys(config.labels.topics, 0.5), base_model="")
    return TorchPredictor(tagger, tokenizer, meta, precision="fp32", device=str(device))


def evaluate(predictor: TorchPredictor, dev: list[Example], config: Config) -> tuple[dict[str, Any], dict[str, float]]:
    """Dev metrics at thresholds tuned on that same dev set (what the saved model will use)."""
    probabilities = predictor.predict_proba([e.text for e in dev])
    gold_topics, gold_tones = gold_arrays(dev, config.labels.topics, config.labels.tones)
    thresholds = tune_thresholds(gold_topics, probabilities.topic_probabilities, config.labels.topics)
    cut = np.array([thresholds[t] for t in config.labels.topics])
    metrics = score(
        gold_topics,
        (probabilities.topic_probabilities >= cut).astype(int),
        gold_tones,
        probabilities.tone_probabilities.argmax(axis=1),
        config.labels.topics,
        config.labels.tones,
    )
    return metrics, thresholds


def _versions() -> dict[str, str]:
    import sklearn
    import transformers

    return {
        "stancetag": stancetag.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "scikit-learn": sklearn.__version__,
    }


def load_splits(
    config: Config, train_path: Path, dev_path: Path | None
) -> tuple[list[Example], list[Example], dict[str, Any]]:
    """Training and dev examples, and what the artifact records about where they came from."""
    examples = load_examples(train_path, config.labels)
    check_label_coverage(examples, config.labels, str(train_path))
    if dev_path is not None:
        dev = load_examples(dev_path, config.labels)
        leaks = find_leaks(examples, dev)
        if leaks:
            raise UserError(leak_message(leaks))
        train = examples
        dev_info = {"path": str(dev_path), "fingerprint": fingerprint(dev), "n": len(dev)}
    else:
        train, dev = split_by_article(examples, config.training.dev_fraction, config.training.seed)
        dev_info = {
            "held_out_from": str(train_path),
            "articles": sorted({e.article for e in dev}),
            "fingerprint": fingerprint(dev),
            "n": len(dev),
        }
    info = {
        "train": {"path": str(train_path), "fingerprint": fingerprint(train), "n": len(train)},
        "dev": dev_info,
    }
    return train, dev, info


def train(
    config: Config,
    train_path: Path,
    dev_path: Path | None,
    output: Path,
    *,
    progress: bool = True,
    resume: bool = False,
    device: str = "auto",
    force: bool = False,
) -> TrainResult:
    """Fine-tune the base model and write the artifact to `output` (atomically, at the very end).

    After every epoch the loop state is checkpointed beside `output`; with `resume=True` an
    interrupted run continues from its last finished epoch and ends with the same model as an
    uninterrupted run with the same seed. `output` must be new, empty or an earlier model folder
    (`force` replaces anything else, once the new model is complete); see `stancetag.paths`.

    Under torchrun or `accelerate launch` (WORLD_SIZE > 1) each process trains on its share of
    every epoch's batches with DistributedDataParallel (gloo on CPUs, NCCL on GPUs), so
    `training.batch_size` is the batch of one process; rank 0 alone evaluates, logs, checkpoints
    and writes the artifact while the others wait.
    """
    teacher = Path(config.training.teacher) if config.training.teacher else None
    check_model_output(output, config.model.base_model, [train_path, dev_path, teacher], force=force)
    launch = launch_from_env()
    target = distributed.place_on_gpu(launch, choose_device(device), one_per_process=True)
    with distributed.process_group(launch, "nccl" if target.type == "cuda" else "gloo"):
        return _train(
            config, train_path, dev_path, output, target, launch, progress=progress and launch.is_main, resume=resume
        )


def _train(
    config: Config,
    train_path: Path,
    dev_path: Path | None,
    output: Path,
    device: torch.device,
    launch: Launch,
    *,
    progress: bool,
    resume: bool,
) -> TrainResult:
    started = time.perf_counter()
    seed_everything(config.training.seed)
    train_examples, dev_examples, data_info = load_splits(config, train_path, dev_path)
    tagger, tokenizer = load_pretrained(config)
    tagger.to(device)
    train_data = encode(train_examples, tokenizer, config, str(train_path))
    pad_id = tokenizer.pad_token_id or 0

    t = config.training
    stepped: nn.Module = tagger  # what a training step calls
    frozen = frozen_layer_count(tagger, t.trained_layers)
    if frozen:
        freeze_lower_layers(tagger, frozen)
        train_data.states = lower_layer_states(
            tagger,
            train_data.ids,
            frozen,
            pad_id,
            config.inference.batch_size,
            resolve_precision(t.precision, device) == "bf16",
            progress,
        )
        stepped = UpperLayers(tagger, frozen)
    if t.teacher:
        train_data = distilled_targets(train_data, [e.text for e in train_examples], config, str(device), progress)
    batches_per_epoch = -(-len(train_data.ids) // t.batch_size)
    steps_per_epoch = -(-batches_per_epoch // launch.world_size)  # each process runs its share of the batches
    optimizer = build_optimizer(tagger, config)
    total_steps = steps_per_epoch * t.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, int(total_steps * t.warmup_ratio)), total_steps)
    topic_loss = nn.BCEWithLogitsLoss()
    tone_loss = nn.CrossEntropyLoss(label_smoothing=t.label_smoothing)
    shuffler = torch.Generator().manual_seed(t.seed)

    best: dict[str, Any] = {"score": -1.0, "epoch": 0, "metrics": None, "thresholds": None}
    best_weights: dict[str, torch.Tensor] | None = None
    history: list[dict[str, Any]] = []
    first_epoch = 1
    ckpt_dir = checkpoint_directory(output)
    identity = {"config": config.to_dict(), "data": data_info}
    restored = checkpoint.load(ckpt_dir, identity) if resume else None
    if restored is not None:
        current, best_weights, state = restored
        tagger.load_state_dict(current)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        torch.set_rng_state(state.torch_rng)
        if state.cuda_rng is not None and device.type == "cuda":
            torch.cuda.set_rng_state(state.cuda_rng, device)
        shuffler.set_state(state.shuffler_rng)
        best, history, first_epoch = state.best, state.history, state.epoch + 1
        if launch.is_main:
            log.info("resuming from %s after epoch %d", ckpt_dir, state.epoch)
    elif launch.is_main:
        if resume:
            log.info("no checkpoint at %s; starting from the first epoch", ckpt_dir)
        checkpoint.start(ckpt_dir, identity)
    model = parallel(stepped, device, launch)
    scorer = dev_predictor(tagger, tokenizer, config, device)

    bar = tqdm(
        range(first_epoch, t.epochs + 1),
        desc="train",
        unit="epoch",
        disable=not progress,
        file=sys.stderr,
        initial=first_epoch - 1,
        total=t.epochs,
    )
    for epoch in bar:
        if epoch - best["epoch"] > t.patience and best["epoch"] > 0:
            break  # a resumed run that had already stopped early
        epoch_started = time.perf_counter()
        loss, sentences = run_epoch(
            model,
            train_data,
            config,
            optimizer,
            scheduler,
            shuffler,
            pad_id,
            progress,
            epoch,
            topic_loss,
            tone_loss,
            launch,
        )
        speed = sentences / (time.perf_counter() - epoch_started)
        if launch.is_main:  # evaluation, checkpoints and logs: rank 0 only, the others wait at the broadcast
            metrics, thresholds = evaluate(scorer, dev_examples, config)
            dev_score = headline(metrics)
            improved = dev_score > best["score"] + 1e-6
            if improved:
                best = {"score": dev_score, "epoch": epoch, "metrics": metrics, "thresholds": thresholds}
                best_weights = copy.deepcopy(tagger.state_dict())
            history.append(
                {
                    "epoch": epoch,
                    "loss": loss,
                    "dev_topic_macro_f1": metrics["topics"]["macro_f1"],
                    "dev_tone_macro_f1": metrics["tone"]["macro_f1"],
                    "sentences_per_second": round(speed, 1),
                }
            )
            checkpoint.save(
                ckpt_dir,
                tagger.state_dict(),
                best_weights,
                checkpoint.LoopState(
                    epoch=epoch,
                    best=best,
                    history=history,
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(),
                    torch_rng=torch.get_rng_state(),
                    shuffler_rng=shuffler.get_state(),
                    cuda_rng=torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                ),
            )
            bar.set_postfix(
                loss=f"{loss:.3f}",
                topic_f1=f"{metrics['topics']['macro_f1']:.3f}",
                tone_f1=f"{metrics['tone']['macro_f1']:.3f}",
                best=best["epoch"],
            )
            log.info(
                "epoch %d: loss %.4f, dev topic macro-F1 %.3f, tone macro-F1 %.3f, %.0f sentences/s%s",
                epoch,
                loss,
                metrics["topics"]["macro_f1"],
                metrics["tone"]["macro_f1"],
                speed,
                " (best so far)" if improved else "",
            )
        best, history = distributed.broadcast((best, history))  # every process stops at the same epoch
        if epoch - best["epoch"] >= t.patience:
            if launch.is_main:
                log.info("early stop: no dev improvement for %d epochs", t.patience)
            break
    bar.close()

    if launch.is_main:
        tagger.load_state_dict(best_weights)
        dev_p = scorer.predict_proba([e.text for e in dev_examples])
        _, dev_tones = gold_arrays(dev_examples, config.labels.topics, config.labels.tones)
        tone_temperature = fit_temperature(dev_tones, dev_p.tone_probabilities)
        details = dev_details(  # for the model card: per register and era, calibration
            dev_examples,
            dev_p.topic_probabilities,
            apply_temperature(dev_p.tone_probabilities, tone_temperature),
            best["thresholds"],
            config.labels.topics,
            config.labels.tones,
        )
        data = {**data_info, "train": {**data_info["train"], **group_counts(train_examples)}}
        meta = ArtifactMeta(
            config=config,
            thresholds=best["thresholds"],
            tone_temperature=tone_temperature,
            base_model=config.model.base_model,
            data=data,
            dev_metrics={**best["metrics"], **details},
            versions=_versions(),
            training={"best_epoch": best["epoch"], "epochs_run": history[-1]["epoch"], "history": history},
        )
        staging = staging_directory(output)
        try:
            save_artifact(staging, tagger, tokenizer, meta)
            write_card(staging, meta, name=output.name)
            publish_directory(staging, output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        checkpoint.remove(ckpt_dir)
    distributed.barrier()  # the other processes return once the model is in place
    return TrainResult(output, best["metrics"], best["epoch"], history[-1]["epoch"], time.perf_counter() - started)
