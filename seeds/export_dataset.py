"""Export the corpus as a Hugging Face dataset: one Parquet file per split with typed features, and a
dataset card (README.md) whose front matter maps the files to splits.

    .venv/bin/python seeds/export_dataset.py [--output artifacts/stancetag-corpus] [--config configs/default.yaml]

Then, anywhere with `datasets` installed:

    from datasets import load_dataset
    corpus = load_dataset("artifacts/stancetag-corpus")   # DatasetDict: train, validation, test
    corpus["train"].features["tone"].names                 # ['cooperative', 'contentious', 'neutral']

`tone` is a ClassLabel, `topics` a list of ClassLabels (the config's label sets, in their order),
`article`, `register` and `era` are strings (`register` and `era` are null where the data records
none). `validation` is `seeds/dev.jsonl`. Every row is validated as `stancetag train` validates it.
The folder is written beside the target and renamed into place when complete. `stancetag train`
reads the Parquet files directly: `--data DIR/data/train.parquet --dev DIR/data/validation.parquet`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path

import yaml
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value, disable_progress_bars

from stancetag.config import LabelsConfig, load_config
from stancetag.errors import UserError
from stancetag.labeled import Example, load_examples
from stancetag.writers import publish_directory, staging_directory

ROOT = Path(__file__).resolve().parents[1]
SPLITS = {"train": "train.jsonl", "validation": "dev.jsonl", "test": "test.jsonl"}  # dataset split: corpus file
DATA_FOLDER = "data"
CARD_FILE = "README.md"


def corpus_features(labels: LabelsConfig) -> Features:
    return Features(
        {
            "text": Value("string"),
            "topics": List(ClassLabel(names=list(labels.topics))),
            "tone": ClassLabel(names=list(labels.tones)),
            "article": Value("string"),
            "register": Value("string"),
            "era": Value("string"),
        }
    )


def to_dataset(examples: list[Example], features: Features) -> Dataset:
    topics, tones = features["topics"].feature, features["tone"]
    return Dataset.from_dict(
        {
            "text": [e.text for e in examples],
            "topics": [[topics.str2int(t) for t in e.topics] for e in examples],
            "tone": [tones.str2int(e.tone) for e in examples],
            "article": [e.article for e in examples],
            "register": [e.register for e in examples],
            "era": [e.era for e in examples],
        },
        features=features,
    )


def build(seeds: Path, labels: LabelsConfig) -> DatasetDict:
    features = corpus_features(labels)
    return DatasetDict(
        {split: to_dataset(load_examples(seeds / name, labels), features) for split, name in SPLITS.items()}
    )


def _counts_table(corpus: DatasetDict, labels: LabelsConfig) -> list[str]:
    titles = ["split", "sentences", "articles", *labels.topics, "no topic", *labels.tones]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for split, data in corpus.items():
        topics = Counter(labels.topics[i] for row in data["topics"] for i in row)
        tones = Counter(labels.tones[i] for i in data["tone"])
        cells = [split, len(data), len(set(data["article"]))]
        cells += [topics[t] for t in labels.topics] + [sum(not row for row in data["topics"])]
        cells += [tones[t] for t in labels.tones]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def dataset_card(corpus: DatasetDict, labels: LabelsConfig) -> str:
    features = next(iter(corpus.values())).features
    header = {
        "language": ["en"],
        "license": "unknown",
        "pretty_name": "stancetag corpus: topics and tone of news sentences on U.S.-China relations",
        "task_categories": ["text-classification"],
        "task_ids": ["multi-label-classification", "sentiment-classification"],
        "tags": ["stancetag", "news", "us-china-relations"],
        "size_categories": ["1K<n<10K"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"{DATA_FOLDER}/{s}.parquet"} for s in corpus],
            }
        ],
        # The hub's YAML form of the features (what datasets' push_to_hub writes).
        "dataset_info": {"features": features._to_yaml_list()},
    }
    registers = sorted({r for d in corpus.values() for r in d["register"] if r})
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        "# stancetag corpus",
        "",
        "Sentences from news reporting on U.S.–China relations, each labeled with zero or more **topics** "
        f"({', '.join(labels.topics)}) and exactly one **tone** ({', '.join(labels.tones)}), following the "
        "labeling guide `docs/labeling.md` of stancetag. It trains and evaluates stancetag's default model.",
        "",
        "```python",
        "from datasets import load_dataset",
        'corpus = load_dataset("path/to/this/folder")  # train, validation, test',
        "```",
        "",
        "## Fields",
        "",
        "- `text`: one sentence.",
        f"- `topics`: a list of class labels, names {list(labels.topics)}; empty when the sentence has no topic.",
        f"- `tone`: a class label, names {list(labels.tones)}.",
        "- `article`: the article the sentence comes from; splits never cut an article.",
        "- `register`, `era`: the voice the sentence is written in and its period, where recorded (else null)"
        + (f"; registers here: {', '.join(registers)}." if registers else "; none recorded in this export."),
        "",
        "## Splits",
        "",
        *_counts_table(corpus, labels),
        "",
        "`validation` is the dev split: stancetag uses it for early stopping, threshold and temperature tuning.",
        "",
        "## How it was made, and its limits",
        "",
        "See `seeds/README.md` in stancetag (the full data card): the sentences were written for this corpus in "
        "the style of news reports about real events, not copied from real articles, except the one seed article "
        "in `test`; both annotation passes and the adjudication were done by AI annotators from the guide, so "
        "the agreement figures there are an upper bound. Expect lower scores on real newspaper text than on `test`.",
        "",
        "## License",
        "",
        "No license has been set for this corpus yet. The seed article in `test` is a real published news report: "
        "its rights stay with its publisher, so leave it out of any public copy.",
    ]
    return "\n".join(lines) + "\n"


def export(output: Path, config_path: Path, seeds: Path = ROOT / "seeds") -> DatasetDict:
    """Build the dataset and write it to `output` (staged beside it, renamed into place when complete)."""
    disable_progress_bars()
    labels = load_config(config_path).labels
    corpus = build(seeds, labels)
    staging = staging_directory(output)
    try:
        (staging / DATA_FOLDER).mkdir()
        for split, data in corpus.items():
            data.to_parquet(str(staging / DATA_FOLDER / f"{split}.parquet"))
        (staging / CARD_FILE).write_text(dataset_card(corpus, labels), encoding="utf-8")
        publish_directory(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "artifacts" / "stancetag-corpus")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default.yaml", help="label sets")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds", help="folder of train/dev/test.jsonl")
    args = parser.parse_args(argv)
    try:
        corpus = export(args.output, args.config, args.seeds)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{split} {len(data)}" for split, data in corpus.items())
    print(f"wrote {args.output} ({sizes} sentences); load it with datasets.load_dataset({str(args.output)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
