# replisim: `make run` runs the main job with defaults, `make test` runs the test suite.
# the first of python3.12, python3.13, python3, python that is Python >= 3.12 (Mesa 3.5 needs it); PY=... overrides
PY ?= $(shell for p in python3.12 python3.13 python3 python; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	  then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench figures params baseline wheel-test clean

$(BIN)/python:
	@test -n "$(PY)" || { echo "replisim needs Python 3.12 or newer: none of python3.12, python3.13, python3, python on the PATH is; install one, or name it with make PY=/path/to/python3.12" >&2; exit 2; }
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

# every figure in figures/: the studies, then the classroom demo's screenshot (the browser test, when chromium is there)
figures: $(DEVSTAMP)
	$(BIN)/python -m experiments.make_figures
	@if [ -x /usr/bin/chromium ]; then REPLISIM_SCREENSHOT_DIR=figures $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_demo_browser.py -k slider_play; \
	else echo "make figures: figures/demo.png not redrawn (no /usr/bin/chromium: apt-get install chromium)" >&2; fi

# docs/parameters.md from the schema and the parameter registry (tests/test_registry.py checks it)
params: $(STAMP)
	$(BIN)/python -m replisim.config.registry

baseline: $(STAMP)
	$(BIN)/python -m tests.baseline.regenerate

clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun
