"""Distillation: a student learns from a trained teacher's probabilities as well as from the gold labels.

With `training.teacher` set to a stancetag model folder (say the default all-mpnet-base-v2 model),
the targets of every training sentence become a blend: `distill_weight` times the teacher's
probabilities plus the rest times the gold labels (topic targets for the BCE, a tone distribution
for the cross-entropy, which takes class probabilities as targets). A small student such as
configs/fast.yaml's MiniLM so learns how sure the teacher is, not only what it chose. The teacher
scores each sentence once, before the first epoch; dev is scored against gold labels only.
"""

from __future__ import annotations

import logging

import torch

from stancetag.config import Config
from stancetag.errors import UserError
from stancetag.model.predictor import load_predictor
from stancetag.training.steps import Encoded

log = logging.getLogger(__name__)


def distilled_targets(data: Encoded, texts: list[str], config: Config, device: str, progress: bool) -> Encoded:
    """`data` with its targets blended with the teacher's probabilities for `texts`."""
    t = config.training
    teacher = load_predictor(t.teacher, device=device)
    topics, tones = list(config.labels.topics), list(config.labels.tones)
    if list(teacher.meta.topics) != topics or list(teacher.meta.tones) != tones:
        raise UserError(
            f"training.teacher {t.teacher}: its labels ({', '.join(teacher.meta.topics)} | "
            f"{', '.join(teacher.meta.tones)}) differ from the config's ({', '.join(topics)} | {', '.join(tones)}); "
            "use a teacher trained on the same label sets"
        )
    log.info("teacher %s scores %d training sentences", t.teacher, len(texts))
    scored = teacher.predict_proba(texts, progress_label="teacher" if progress else None)
    weight = t.distill_weight
    gold_tones = torch.nn.functional.one_hot(data.tones, len(tones)).float()
    return Encoded(
        ids=data.ids,
        topics=weight * torch.from_numpy(scored.topic_probabilities).float() + (1 - weight) * data.topics,
        tones=weight * torch.from_numpy(scored.tone_probabilities).float() + (1 - weight) * gold_tones,
        states=data.states,
    )
