# One entry point for developers, the README and CI.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo

.PHONY: demo install install-test test lint typecheck unit bench bench-100k clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[postgres]'

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[postgres,test]'

# Quick start: sync a copy of the shipped sample notes with a SQLite database, then show status.
demo: install
	rm -rf $(DEMO) && mkdir -p $(DEMO) && cp -R examples/sample-brain $(DEMO)/brain-data
	$(BIN)/brainsync --dir $(DEMO)/brain-data sync
	$(BIN)/brainsync --dir $(DEMO)/brain-data status

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-test
	$(BIN)/mypy

# The whole suite: lint, types, then every test layer in parallel (2 workers on 2 cores).
test: lint typecheck
	$(BIN)/pytest -n 2 -q

unit: install-test
	$(BIN)/pytest -q tests/unit

bench: install-test
	$(BIN)/python -m bench --size 10000

bench-100k: install-test
	$(BIN)/python -m bench --size 100000

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache .hypothesis
