"""`stancetag.training`: fine-tuning a model on labeled sentences.

- `loop`: `train()`, the whole run from data to a published model folder.
- `steps`: optimizer, schedule, length-bucketed batches, one epoch.
- `checkpoint`: per-epoch checkpoints for `--resume`.
- `crossval`: article-grouped cross-validation (it trains, so it lives above evaluation).
- `check`: `stancetag check`, every validation `train` runs, without training.

Imports the floor, `stancetag.model` and `stancetag.evaluation`; nothing below imports it.
"""
