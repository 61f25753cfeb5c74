# replisim: `make run` runs the main job with defaults, `make test` runs the test suite.
PY ?= python
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench figures params baseline wheel-test clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/replisim

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# Ruff (configured in pyproject.toml); make test runs it first
lint: $(DEVSTAMP)
	$(BIN)/ruff check replisim tests benchmarks experiments hydra_plugins

bench: $(DEVSTAMP)
	$(BIN)/python -m benchmarks

figures: $(STAMP)
	$(BIN)/python -m experiments.make_figures

# docs/parameters.md from the schema and the parameter registry (tests/test_registry.py checks it)
params: $(STAMP)
	$(BIN)/python -m replisim.config.registry

baseline: $(STAMP)
	$(BIN)/python -m tests.baseline.regenerate

clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun
