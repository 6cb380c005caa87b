"""The Python API as a notebook uses it: `from stancetag import Tagger`, load, tag, look at records."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stancetag.cli import app
from stancetag.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "seed_article.txt"
RECORD_KEYS = {"article", "sentence_index", "text", "topics", "topic_scores", "tone", "tone_scores", "model"}


def test_import_stancetag_stays_light():
    probe = (
        "import sys, stancetag\n"
        "before = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "from stancetag import Tagger\n"
        "after = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print(before, after, Tagger.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "[]", "stancetag.model.tagger"]


def test_a_notebook_tags_an_article_as_the_cli_does(trained_tiny):
    from stancetag import Tagger

    tagger = Tagger.load(trained_tiny, device="cpu")
    assert tagger.topics == ("taiwan", "trade", "military_ties") and tagger.backend == "torch"
    records = tagger.tag_articles({"seed_article": SEED.read_text(encoding="utf-8")})

    cli = CliRunner().invoke(app, ["predict", "--model", str(trained_tiny), "--device", "cpu", str(SEED)])
    assert cli.exit_code == 0, cli.output
    assert records == [json.loads(line) for line in cli.stdout.splitlines()]  # the same records, key for key
    assert len(records) == 29 and set(records[0]) == RECORD_KEYS


def test_predict_tags_sentences_in_order_with_the_same_scores(trained_tiny):
    from stancetag import Tagger

    tagger = Tagger.load(trained_tiny, device="cpu")
    article = tagger.tag_articles("Tariffs rose on Monday. Chinese warships sailed near Taiwan.")
    sentences = tagger.predict([r["text"] for r in reversed(article)])
    assert [r["sentence_index"] for r in sentences] == [0, 1] and {r["article"] for r in sentences} == {None}
    assert [r["text"] for r in sentences] == [article[1]["text"], article[0]["text"]]
    for got, expected in zip(sentences, reversed(article), strict=True):
        assert (got["topics"], got["tone"]) == (expected["topics"], expected["tone"])
        assert got["topic_scores"] == pytest.approx(expected["topic_scores"], abs=1e-4)
    one = tagger.predict("Talks resumed.", article="a1")
    assert len(one) == 1 and one[0]["article"] == "a1" and one[0]["text"] == "Talks resumed."


def test_every_article_shape_gets_ids(trained_tiny):
    from stancetag import Tagger

    tagger = Tagger.load(trained_tiny, device="cpu")

    def ids(articles):
        return [(r["article"], r["sentence_index"]) for r in tagger.tag_articles(articles)]

    assert ids("Tariffs rose. Talks resumed.") == [("0", 0), ("0", 1)]
    assert ids(["Tariffs rose.", "Talks resumed."]) == [("0", 0), ("1", 0)]
    assert ids({"w1": "Tariffs rose.", 7: "Talks resumed."}) == [("w1", 0), ("7", 0)]
    assert ids([("w1", "Tariffs rose."), ("w2", "\n\n")]) == [("w1", 0)]  # no sentences, no records
    streamed = tagger.stream(iter([("w3", "Drills near Taiwan.")]))
    assert next(streamed)["article"] == "w3"


def test_thresholds_move_operating_points(trained_tiny):
    from stancetag import Tagger

    tagger = Tagger.load(trained_tiny, device="cpu", thresholds={"trade": 0.0})
    assert tagger.thresholds["trade"] == 0.0
    assert all("trade" in r["topics"] for r in tagger.predict(["Talks resumed.", "A quiet day."]))
    tagger.set_thresholds({"trade": 1.0})
    assert not any("trade" in r["topics"] for r in tagger.predict(["Talks resumed.", "A quiet day."]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda T, m: T.load(m, thresholds={"trad": 0.5}), 'unknown topic "trad" — did you mean "trade"?'),
        (lambda T, m: T.load(m, thresholds={"trade": 2}), "trade=2 must be a number between 0 and 1"),
        (lambda T, m: T.load(m, device="gpu"), "device 'gpu': choose one of auto, cpu, cuda"),
        (lambda T, m: T.load(m, precision="fp16"), "precision 'fp16': choose one of auto, fp32, bf16"),
        (lambda T, m: T.load(m, batch_size=0), "batch_size 0: give a whole number of at least 1"),
        (lambda T, m: T.load(m / "missing"), "not a model directory"),
        (lambda T, m: T.load(m, device="cpu").predict(["fine", None]), "sentence 1: expected a string, found NoneType"),
        (lambda T, m: T.load(m, device="cpu").predict(["  "]), "sentence 0: empty"),
        (lambda T, m: T.load(m, device="cpu").tag_articles([("a", 3)]), "article a: the text must be a string"),
        (lambda T, m: T.load(m, device="cpu").tag_articles(42), "articles: expected a text"),
    ],
)
def test_mistakes_are_user_errors_that_say_how_to_fix_them(trained_tiny, call, message):
    from stancetag import Tagger

    with pytest.raises(UserError) as caught:
        call(Tagger, trained_tiny)
    assert message in str(caught.value)
