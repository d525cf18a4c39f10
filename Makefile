# Quick start: `make run` (machine from nothing to the results table), `make test` (the test suite).
# Both install what they need first (Docker engine, debootstrap, a Python venv, the base images).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?= all

.PHONY: run test unit integration host venv bases test-deps guests matrix validate compose clean clean-test-images bench

run: host venv bases
	$(PY) lab.py run $(ARGS)

test: host venv bases test-deps guests
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest tests/unit

integration: host venv bases test-deps guests
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

# qemu and friends for the kernel matrix (run --kernel); the quick start does not need them
guests:
	bash scripts/setup-guests.sh

# The reference kernel matrix: every scenario on bookworm images, three Debian kernels and this
# host's, cgroup v1 and v2 (about an hour under TCG on 2 cores)
matrix: host venv bases guests
	$(PY) lab.py run all --suite bookworm --kernel host --kernel 5.10 --kernel 6.1 --kernel 6.12 --cgroup v1 --cgroup v2

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

# the images the tests' fixtures build (label org.reprolab.fixture=true); .ci/run does this first
clean-test-images:
	bash scripts/clean-test-images.sh
