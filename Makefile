# Quick start: `make run` (machine from nothing to the results table), `make test` (the test suite).
# Both install what they need first (Docker engine, debootstrap, a Python venv, the base images).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?= all

.PHONY: run test unit integration host venv bases test-deps validate compose clean bench

run: host venv bases
	$(PY) lab.py run $(ARGS)

test: host venv bases test-deps
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest tests/unit

integration: host venv bases test-deps
	$(PY) -m pytest tests/integration

host:
	bash scripts/setup-host.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

test-deps: host
	bash scripts/install-test-deps.sh

compose: venv
	$(PY) lab.py compose

bases: host venv
	$(PY) lab.py base

validate: venv
	$(PY) lab.py validate

bench: host venv bases
	$(PY) bench/run.py

clean: venv
	$(PY) lab.py clean
