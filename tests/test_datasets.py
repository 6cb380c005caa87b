"""Labeled data through `datasets`: Parquet, Arrow, JSON arrays and saved datasets load like JSONL
(errors by row), the corpus exports as a typed DatasetDict that load_dataset reads, and a model trains
on a Parquet file."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from datasets import Dataset, DatasetDict, load_dataset
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.config import load_config
from stancetag.errors import UserError
from stancetag.labeled import load_examples

from .conftest import DATA, TINY_DATA

ROOT = Path(__file__).resolve().parents[1]
LABELS = load_config(DATA / "tiny.yaml").labels
ROWS = [json.loads(line) for line in TINY_DATA.read_text().splitlines()]
runner = CliRunner()


def _content(examples):
    return [(e.text, e.topics, e.tone, e.article, e.register, e.era) for e in examples]


def _exporter():
    spec = importlib.util.spec_from_file_location("export_dataset", ROOT / "seeds" / "export_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_datasets_format_loads_the_same_examples(tmp_path):
    expected = _content(load_examples(TINY_DATA, LABELS))
    plain = Dataset.from_list(ROWS)  # string columns, as a user's own Parquet would have them
    plain.to_parquet(str(tmp_path / "plain.parquet"))
    (tmp_path / "array.json").write_text(json.dumps(ROWS))
    plain.save_to_disk(str(tmp_path / "saved"))
    DatasetDict(train=plain, dev=plain.select(range(3))).save_to_disk(str(tmp_path / "dict"))
    typed = _exporter().to_dataset(load_examples(TINY_DATA, LABELS), _exporter().corpus_features(LABELS))
    typed.to_parquet(str(tmp_path / "typed.parquet"))  # ClassLabel tone, list of ClassLabel topics
    arrow = next((tmp_path / "saved").glob("*.arrow"))
    for source in ("plain.parquet", "typed.parquet", "array.json", "saved", "dict/train", arrow.relative_to(tmp_path)):
        examples = load_examples(tmp_path / source, LABELS)
        assert _content(examples) == expected, source
    assert [e.line for e in examples[:3]] == [1, 2, 3] and str(examples[0].line) == "row 1"


def bad_rows(tmp_path, rows, name="bad.parquet"):
    Dataset.from_list(rows).to_parquet(str(tmp_path / name))
    with pytest.raises(UserError) as caught:
        load_examples(tmp_path / name, LABELS)
    return str(caught.value)


def test_problems_are_reported_by_file_and_row(tmp_path):
    good = {"text": "Tariffs rose.", "topics": ["trade"], "tone": "contentious", "article": "a"}
    row3 = {"text": "Drills.", "topics": ["militry_ties"], "tone": "contentious", "article": "b"}
    message = bad_rows(tmp_path, [good, {**good, "text": "Talks."}, row3])
    assert message.startswith(f'{tmp_path / "bad.parquet"}:row 3: unknown topic "militry_ties"')
    assert 'did you mean "military_ties"?' in message
    message = bad_rows(tmp_path, [good, {**good, "tone": "neutral"}])
    assert message.endswith(
        "bad.parquet:row 2: the same sentence has different labels on rows 1 and 2; keep one of them"
    )
    message = bad_rows(tmp_path, [{"text": "Tariffs rose.", "topics": ["trade"]}])
    assert "expected the columns ['text', 'topics', 'tone'], but ['tone'] are missing" in message
    message = bad_rows(tmp_path, [good, {**good, "text": None}])
    assert message.endswith('bad.parquet:row 2: missing "text"; every row needs the sentence in "text"')

    (tmp_path / "broken.parquet").write_bytes(b"not a parquet file at all")
    with pytest.raises(UserError, match=r"broken.parquet: not a readable parquet file \("):
        load_examples(tmp_path / "broken.parquet", LABELS)
    DatasetDict(train=Dataset.from_list([good]), test=Dataset.from_list([good])).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(UserError, match=r"a saved DatasetDict with the splits train, test; pass one split's folder"):
        load_examples(tmp_path / "dd", LABELS)


def test_check_summarises_a_parquet_file(tmp_path):
    Dataset.from_list(ROWS).to_parquet(str(tmp_path / "tiny.parquet"))
    result = runner.invoke(app, ["check", str(tmp_path / "tiny.parquet"), "--config", str(DATA / "tiny.yaml")])
    assert result.exit_code == 0, result.output
    assert "tiny.parquet: 60 sentences in 8 articles" in result.stdout


def test_the_corpus_exports_as_a_typed_dataset_dict_that_load_dataset_reads(tmp_path):
    exporter = _exporter()
    output = tmp_path / "corpus"
    assert exporter.main(["--output", str(output)]) == 0
    corpus = load_dataset(str(output), cache_dir=str(tmp_path / "hf-cache"))  # not the shared cache of earlier runs
    assert set(corpus) == {"train", "validation", "test"}
    labels = load_config(ROOT / "configs" / "default.yaml").labels
    for split, name in (("train", "train.jsonl"), ("validation", "dev.jsonl"), ("test", "test.jsonl")):
        examples = load_examples(ROOT / "seeds" / name, labels)
        assert len(corpus[split]) == len(examples)
        row = corpus[split][0]
        features = corpus[split].features
        assert features["tone"].int2str(row["tone"]) == examples[0].tone
        assert tuple(features["topics"].feature.int2str(i) for i in row["topics"]) == examples[0].topics
        assert (row["text"], row["article"]) == (examples[0].text, examples[0].article)
        assert _content(load_examples(output / "data" / f"{split}.parquet", labels)) == _content(examples)
    features = corpus["train"].features
    assert features["tone"].names == list(labels.tones)
    assert features["topics"].feature.names == list(labels.topics)
    assert {features[k].dtype for k in ("text", "article", "register", "era")} == {"string"}
    card = (output / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": "data/train.parquet"}
    assert "## Fields" in card and "seeds/README.md" in card
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder left behind"


@pytest.mark.slow
def test_a_model_trains_on_a_parquet_file_exactly_as_on_jsonl(tiny_config, trained_tiny, tmp_path):
    """The fixture model was trained on tiny.jsonl with the same config: same examples, same bytes."""
    Dataset.from_list(ROWS).to_parquet(str(tmp_path / "tiny.parquet"))
    out = tmp_path / "model"
    result = runner.invoke(
        app, ["train", "--config", str(tiny_config), "--data", str(tmp_path / "tiny.parquet"), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "stancetag.json").read_text())
    assert meta["data"]["train"]["path"] == str(tmp_path / "tiny.parquet")
    reference = json.loads((trained_tiny / "stancetag.json").read_text())
    assert meta["data"]["train"]["fingerprint"] == reference["data"]["train"]["fingerprint"]
    assert meta["dev_metrics"] == reference["dev_metrics"]
    assert (out / "model.safetensors").read_bytes() == (trained_tiny / "model.safetensors").read_bytes()
