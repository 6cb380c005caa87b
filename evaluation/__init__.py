"""`stancetag.evaluation`: how good a model is, and how sure we are of it.

- `metrics`: precision/recall/F1 and tone accuracy of decisions; gold arrays; scoring a predictor.
- `thresholds`: the per-topic decision threshold grid and the dev tuning rule.
- `calibration`: tone temperature scaling and reliability (ECE).
- `bootstrap`: article-bootstrap intervals and paired tests.
- `baselines`: majority and TF-IDF + logistic regression beside the model.
- `report`: the `stancetag metrics` computation; `render` and `figures` write it out.

Imports the floor and `stancetag.model`; `stancetag.training` imports it, never the reverse.
"""
