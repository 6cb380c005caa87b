"""The model card: `README.md` in every model folder, written by training from `stancetag.json`.

It follows the Hugging Face hub's model cards: YAML front matter (language, license, tags,
metrics, base_model) and sections a reader needs before trusting the tags: intended and
out-of-scope use, labels, training data and its limits, dev scores (per register and era where
the data records them), calibration, the stored thresholds, and how to load the model.

`dev_details` computes what the card shows beyond `dev_metrics` (scores per register and era,
calibration) so that it is stored in `stancetag.json` too: the card is a rendering of that file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from stancetag.evaluation import calibration
from stancetag.evaluation.baselines import Outputs
from stancetag.evaluation.report import Gold, group_report
from stancetag.labeled import GROUP_FIELDS, Example
from stancetag.model.encoders import hub_id
from stancetag.model.meta import ArtifactMeta

CARD_FILE = "README.md"
GUIDE = Path("docs") / "labeling.md"
LICENSE = "apache-2.0"  # stancetag's licence, and that of the default encoder (all-MiniLM-L6-v2)
TAGS = ["stancetag", "text-classification", "multi-label-classification", "news", "us-china-relations", "english"]


def dev_details(
    examples: list[Example],
    topic_probabilities: np.ndarray,
    tone_probabilities: np.ndarray,
    thresholds: dict[str, float],
    topics: tuple[str, ...],
    tones: tuple[str, ...],
) -> dict[str, Any]:
    """Dev scores per register and era (where the data records them) and calibration (ECE).

    tone_probabilities are the temperature-scaled ones the model will give.
    """
    gold = Gold.from_examples(examples, topics, tones)
    cut = np.array([thresholds[t] for t in topics])
    outputs = Outputs(topic_probabilities, tone_probabilities, topic_probabilities >= cut)
    details: dict[str, Any] = {
        "calibration": {
            "bins": calibration.CALIBRATION_BINS,
            "topics_ece": calibration.topic_calibration(gold.topics, topic_probabilities)["ece"],
            "tone_ece": calibration.tone_calibration(gold.tones, tone_probabilities)["ece"],
        }
    }
    for field in GROUP_FIELDS:
        groups = group_report(gold, outputs, topics, tones, field)
        if groups:
            details[f"by_{field}"] = groups
    return details


def group_counts(examples: list[Example]) -> dict[str, dict[str, int]]:
    """Sentences per register and per era of a split, for the data section of the card."""
    out = {}
    for field in GROUP_FIELDS:
        values = [e.group(field) for e in examples if e.group(field) is not None]
        if values:
            out[f"{field}s"] = {v: values.count(v) for v in sorted(set(values))}
    return out


def _table(titles: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value).replace("|", "\\|")

    return ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)] + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows
    ]


def _front_matter(meta: ArtifactMeta) -> list[str]:
    lines = ["---", "language:", "- en", f"license: {LICENSE}", "tags:"]
    lines += [f"- {tag}" for tag in TAGS]
    lines += ["pipeline_tag: text-classification", "metrics:", "- f1", "- accuracy"]
    base = hub_id(meta.base_model)
    if base:
        lines.append(f"base_model: {base}")
    return lines + ["---", ""]


def _guide_link(folder: Path) -> str:
    """A relative link to the labeling guide when the model sits in (or near) a stancetag checkout."""
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if (parent / GUIDE).is_file() and (parent / "pyproject.toml").is_file():
            return f"[{GUIDE.as_posix()}]({Path(os.path.relpath(parent / GUIDE, folder.resolve())).as_posix()})"
    return f"`{GUIDE.as_posix()}` in the stancetag source"


def _data_lines(meta: ArtifactMeta) -> list[str]:
    train, dev = meta.data.get("train", {}), meta.data.get("dev", {})
    lines = [
        f"- Training: `{train.get('path')}`, {train.get('n', '?')} labeled sentences "
        f"(content fingerprint `{train.get('fingerprint')}`).",
    ]
    if "path" in dev:
        lines.append(f"- Dev: `{dev['path']}`, {dev.get('n', '?')} sentences.")
    else:
        lines.append(
            f"- Dev: {dev.get('n', '?')} sentences in {len(dev.get('articles', []))} articles held out of the "
            "training file by article, so no article straddles the split."
        )
    for field in ("registers", "eras"):
        counts = train.get(field)
        if counts:
            lines.append(f"- Training sentences per {field[:-1]}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    card = Path(str(train.get("path", ""))).with_name("README.md")
    if train.get("path") and card.is_file():
        lines.append(f"- The data's own card: `{card}`.")
    lines += [
        "",
        "Limits: every score below comes from dev sentences of the same source and style as the training data; "
        "expect lower scores on other sources, other registers and other years. The labels follow one guide, "
        "and sentences near its borderline rules (mixed tone, passing mentions) are where annotators, and the "
        "model, disagree most. English only; sentences are tagged one at a time, without the article around them.",
    ]
    if "seeds" in Path(str(train.get("path", ""))).parts:
        lines.append(
            "The default corpus (`seeds/`) was written for this project in the register of news reports about real "
            "events, not copied from real articles (see `seeds/README.md`)."
        )
    return lines


def _scores_lines(meta: ArtifactMeta) -> list[str]:
    m = meta.dev_metrics
    if not m:
        return ["No dev scores were recorded."]
    lines = [
        f"On the dev split ({m.get('n', '?')} sentences), at the stored thresholds. Dev also chose the best epoch, "
        "the thresholds and the tone temperature, so these scores are optimistic; for held-out scores with "
        "bootstrap intervals and baselines run `stancetag metrics --model DIR --data TEST --output-dir DIR/report`.",
        "",
    ]
    lines += _table(
        ["metric", "dev"],
        [
            ["topic micro F1", m["topics"]["micro_f1"]],
            ["topic macro F1", m["topics"]["macro_f1"]],
            ["tone accuracy", m["tone"]["accuracy"]],
            ["tone macro F1", m["tone"]["macro_f1"]],
        ],
    )
    lines += ["", "Per label:", ""]
    rows = [
        [label, kind, row["precision"], row["recall"], row["f1"], row["support"]]
        for kind, section in (("topic", m["topics"]), ("tone", m["tone"]))
        for label, row in section["per_label"].items()
    ]
    lines += _table(["label", "kind", "precision", "recall", "F1", "support"], rows)
    for field in ("register", "era"):
        groups = m.get(f"by_{field}")
        if groups:
            lines += ["", f"Per {field} (dev sentences that record one):", ""]
            lines += _table(
                [field, "sentences", "articles", "topic micro F1", "topic macro F1", "tone accuracy", "tone macro F1"],
                [
                    [name, g["n"], g["articles"], g["topic_micro_f1"], g["topic_macro_f1"], g["tone_accuracy"]]
                    + [g["tone_macro_f1"]]
                    for name, g in groups.items()
                ],
            )
    return lines


def _calibration_lines(meta: ArtifactMeta) -> list[str]:
    lines = [
        f"Tone logits are divided by a temperature of {meta.tone_temperature:g}, fitted on dev (temperature "
        "scaling: it changes confidences, never which tone wins)."
    ]
    found = meta.dev_metrics.get("calibration")
    if found:
        lines.append(
            f"Expected calibration error on dev ({found['bins']} bins): topic probabilities {found['topics_ece']:.3f}, "
            f"tone confidence {found['tone_ece']:.3f} (the temperature was fitted on the same sentences)."
        )
    return lines


def _usage_lines(folder_name: str) -> list[str]:
    return [
        "```python",
        "from stancetag import Tagger  # the stancetag version that trained it is in stancetag.json",
        "",
        f'tagger = Tagger.load("{folder_name}")',
        'tagger.tag_articles({"a1": "Chinese warships encircled Taiwan on Monday. Talks resume in May."})',
        "```",
        "",
        "or with transformers' Auto classes, once `stancetag` is imported (it registers the `stancetag` model type; "
        "no remote code):",
        "",
        "```python",
        "import stancetag  # noqa: F401",
        "import torch",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        f'model = AutoModel.from_pretrained("{folder_name}", trust_remote_code=False).eval()',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder_name}", trust_remote_code=False)',
        'batch = tokenizer(["Chinese warships encircled Taiwan."], padding=True, return_tensors="pt")',
        "with torch.inference_mode():",
        "    topic_logits, tone_logits = model(**batch)",
        "cut = torch.tensor([model.config.thresholds[t] for t in model.config.topics])",
        "topics_on = torch.sigmoid(topic_logits) >= cut  # columns: model.config.topics",
        "tone_p = torch.softmax(tone_logits / model.config.tone_temperature, dim=-1)  # columns: model.config.tones",
        "```",
        "",
        "From the command line: `stancetag predict --model DIR article.txt`.",
    ]


def _error_rate(meta: ArtifactMeta) -> str:
    tone = meta.dev_metrics.get("tone")
    if not tone:
        return "tags are statistical guesses, and some are wrong."
    return (
        f"on dev, {1 - tone['accuracy']:.0%} of tones were wrong and topic F1 was "
        f"{meta.dev_metrics['topics']['micro_f1']:.2f}; on text unlike the training data, expect more mistakes."
    )


def model_card(meta: ArtifactMeta, folder: Path) -> str:
    """The card's Markdown for the model folder `folder` (its name appears in the loading examples)."""
    config = meta.config
    topics, tones = ", ".join(f"`{t}`" for t in meta.topics), ", ".join(f"`{t}`" for t in meta.tones)
    base = hub_id(meta.base_model)
    lines = _front_matter(meta)
    lines += [
        "# stancetag: topics and tone of news sentences on U.S.–China relations",
        "",
        f"Tags every sentence with zero or more **topics** ({topics}) and one **tone** ({tones}). "
        f"Fine-tuned with stancetag {meta.versions.get('stancetag', '')} from `{meta.base_model}`"
        + (f" ({base})" if base and base != meta.base_model else "")
        + ": one encoder, mean pooling, a multi-label topic head (sigmoid) and a tone head (softmax).",
        "",
        "## Intended use",
        "",
        "- Tagging the sentences of English news reports about U.S.–China relations, so that analysts can count "
        "and filter them by topic and follow the tone of coverage across many articles.",
        "- Aggregates over many sentences, with a person reading the sentences behind any conclusion.",
        "",
        "## Out-of-scope use",
        "",
        "- Other languages, other bilateral relationships, or text that is not news reporting "
        "(social media, speeches, transcripts) without new labeled data and evaluation.",
        "- Judging the stance of a person, outlet or government, or any decision about people.",
        "- Single-sentence decisions without review: " + _error_rate(meta),
        "",
        "## Labels",
        "",
        f"Defined, with examples and borderline rules, in the labeling guide {_guide_link(folder)}. "
        "Topics are independent yes/no decisions (a sentence may have none or several); the tone is exactly one.",
        "",
    ]
    lines += _table(
        ["label", "kind", "decision"],
        [[t, "topic", f"probability ≥ {meta.thresholds[t]:.2f}"] for t in meta.topics]
        + [[t, "tone", "highest probability"] for t in meta.tones],
    )
    lines += ["", "## Training data", ""] + _data_lines(meta)
    lines += ["", "## Scores", ""] + _scores_lines(meta)
    lines += ["", "## Calibration", ""] + _calibration_lines(meta)
    lines += [
        "",
        "## Thresholds",
        "",
        "Per-topic thresholds were tuned on dev for the best F1 and are stored in `config.json` and `stancetag.json`: "
        + ", ".join(f"`{t}` {meta.thresholds[t]:.2f}" for t in meta.topics)
        + ". Move one with `stancetag predict --threshold trade=0.8` or `Tagger.load(DIR, thresholds={...})`.",
        "",
        "## How to load",
        "",
    ]
    lines += _usage_lines(folder.name)
    history, t = meta.training, config.training
    lines += [
        "",
        "## Training procedure",
        "",
        f"- Base model `{meta.base_model}`; max length {config.model.max_length} tokens; "
        f"dropout {config.model.dropout}.",
        f"- AdamW, learning rate {t.learning_rate:g} (encoder) and {t.head_learning_rate:g} (heads), "
        f"batch {t.batch_size}, linear warm-up {t.warmup_ratio:g}, label smoothing {t.label_smoothing:g}, "
        f"seed {t.seed}.",
        f"- Best epoch {history.get('best_epoch', '?')} of {history.get('epochs_run', '?')} run (early stopping on the "
        f"mean of dev topic and tone macro F1, patience {t.patience}).",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta.versions.items()) + ".",
        "",
        "The full config, data fingerprints and per-epoch history are in `stancetag.json`.",
    ]
    return "\n".join(lines) + "\n"


def write_card(folder: Path, meta: ArtifactMeta, name: str | None = None) -> Path:
    """Write README.md into `folder` (a staging folder; `name` is the folder the model will be published as)."""
    path = folder / CARD_FILE
    target = folder if name is None else folder.with_name(name)
    path.write_text(model_card(meta, target), encoding="utf-8")
    return path
