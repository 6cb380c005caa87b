"""Progress bars: on standard error when it is a terminal, never with --quiet, never in a pipe."""

import json

import pytest
from typer.testing import CliRunner

from stancetag import progress
from stancetag.cli import app

from .conftest import TINY_DATA

runner = CliRunner()
SEED = "seeds/seed_article.txt"


@pytest.fixture()
def terminal(monkeypatch):
    monkeypatch.setattr(progress, "_is_terminal", lambda: True)


def test_predict_metrics_and_trends_show_a_bar_on_a_terminal(trained_tiny, terminal):
    predicted = runner.invoke(app, ["predict", "--model", str(trained_tiny), SEED])
    assert predicted.exit_code == 0, predicted.output
    assert "predict:" in predicted.stderr and "sentence" in predicted.stderr
    assert all(json.loads(line) for line in predicted.stdout.splitlines()), "the bar stays out of the records"
    scored = runner.invoke(
        app, ["metrics", "--model", str(trained_tiny), "--data", str(TINY_DATA), "--bootstrap", "20"]
    )
    assert scored.exit_code == 0, scored.output
    assert f"score {trained_tiny.name}:" in scored.stderr
    counted = runner.invoke(
        app, ["trends", "--model", str(trained_tiny), "--period", "none", "--bootstrap", "20", SEED]
    )
    assert counted.exit_code == 0, counted.output
    assert "tag:" in counted.stderr and "calibrate:" in counted.stderr and "trends:" in counted.stderr


@pytest.mark.parametrize("where", ["command", "global"])
def test_quiet_turns_the_bars_off(trained_tiny, terminal, where):
    args = ["predict", "--model", str(trained_tiny), SEED]
    args = [*args[:1], "--quiet", *args[1:]] if where == "command" else ["--quiet", *args]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "predict:" not in result.stderr
    assert len(result.stdout.splitlines()) == 29


def test_no_bar_when_stderr_is_not_a_terminal(trained_tiny):
    result = runner.invoke(app, ["predict", "--model", str(trained_tiny), SEED])
    assert result.exit_code == 0 and "predict:" not in result.stderr
