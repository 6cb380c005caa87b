"""`stancetag.loop`: closing the labeling loop around a trained model.

- `suggest`: which unlabeled sentences to label next (uncertainty or random), kept diverse and
  spread across articles, each with its reason.
- `tasks`: pre-annotations for Label Studio, Argilla and Prodigy (the model's labels as suggestions).
- `imports`: those tools' exports of finished annotations back into labeled JSONL, validated
  like training data.
- `audit`: likely label errors from out-of-fold probabilities and cleanlab.

Imports the floor, `stancetag.model`, `stancetag.evaluation` and `stancetag.training`; only the
CLI imports it.
"""
