# CareScreen: `make run` serves, `make test` tests. Both set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1

.PHONY: install run test test-fast lint typecheck bench evaluate evaluate-pii clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a looser spec would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Serve the API and console on http://127.0.0.1:8000 (trains the default model on first run, with progress).
run: install
	$(VENV)/bin/carescreen serve

## Everything CI runs: lint, types, and the whole test suite (slow tests included).
test: install lint typecheck
	$(PY) -m pytest -q

## Quick local loop: no training, browser, subprocess or load tests.
test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy carescreen models training service storage evaluation

bench: install
	$(VENV)/bin/carescreen bench

evaluate: install
	$(VENV)/bin/carescreen evaluate

evaluate-pii: install
	$(VENV)/bin/carescreen evaluate-pii

clean:
	rm -rf $(VENV) var mlruns test-artifacts
