# salespulse: every target installs what it needs (idempotent, cached) before it runs.
SHELL := /bin/bash
# The interpreter the venv is made with: python3, or a build of the same version that links
# libpython in, which runs the worker faster (.ci/pick-python.sh --explain says which and why).
# Choose another with `make install PYTHON=...` (an existing venv keeps its own: rm -rf .venv).
# Picked on first use and kept (each pick starts every candidate interpreter once).
PYTHON ?= $(eval PYTHON := $(shell bash .ci/pick-python.sh))$(PYTHON)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled
export KAFKA_BOOTSTRAP ?= 127.0.0.1:9092
PYTEST_ARGS ?=
# Test processes of `make test` and `make integration` (pytest-xdist), each test file in one
# of them (its module fixtures, brokers among them, started once). The integration tests
# mostly wait (for rebalances, restarts, timeouts), so three share two cores well: the whole
# suite took 528 s with 3 against 1,062 s in one (2 cores, 2026-12-07). 0 runs them in one.
TEST_PROCESSES ?= 3
XDIST := $(if $(filter 0,$(TEST_PROCESSES)),,-n $(TEST_PROCESSES) --dist loadfile)

.PHONY: help install compile system-deps kafka-deps kafka-up kafka-down worker run test lint typecheck unit integration e2e faults promtool-check compose-check k8s-check lock bench clean

help:
	@echo "make run          the demo: a local broker, a worker, history and live traffic"
	@echo "make test         everything CI runs: lint, types, config checks, all the tests"
	@echo "make unit | integration | e2e | faults    one part of the tests"
	@echo "make lint | typecheck | compile           ruff, mypy, the compiled fold"
	@echo "make kafka-up | kafka-down                a local broker on 127.0.0.1:9092"
	@echo "make worker | bench | install | clean     (README: Development, Performance)"

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || { echo "making $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip 'setuptools>=77'
	SALES_COMPILE=0 $(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The fold's pure modules compiled with mypyc, in place, with the venv's mypy (setup.py;
# SALES_COMPILE=0 builds pure Python): rebuilt whenever one of them changed, since Python
# imports the compiled copy first (and streams/__init__.py refuses one older than its source).
$(COMPILED): $(STAMP) $(wildcard streams/domain/*.py streams/engine/*.py)
	$(PY) setup.py -q build_ext --inplace
	@touch $@

compile: $(COMPILED)

install: $(STAMP) $(COMPILED)

# Debian packages for Prometheus, promtool and Alertmanager (e2e tests, alert rules), and a C
# compiler for the fold when there is none (before `install` in `test`, which compiles).
system-deps:
	@bash .ci/system-deps.sh

# Only what a local broker needs (Java 17 and Maven, when missing): for run and kafka-up.
kafka-deps:
	@bash .ci/system-deps.sh --kafka-only

kafka-up: install kafka-deps
	$(PY) deploy/kafka/kafka_local.py up

kafka-down:
	@$(PYTHON) deploy/kafka/kafka_local.py down

worker: install
	$(VENV)/bin/salespulse worker

run: install kafka-up
	$(VENV)/bin/salespulse run

lint: install
	$(VENV)/bin/ruff check setup.py streams tests bench deploy
	$(VENV)/bin/ruff format --check setup.py streams tests bench deploy

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: install
	$(PY) -m pytest -q tests/integration $(XDIST) $(PYTEST_ARGS)

e2e: install system-deps
	$(PY) -m pytest -q tests/e2e $(PYTEST_ARGS)

# Fault injection at full size (200,000+ events, SIGKILLed workers and broker, rebalances);
# `make test` runs the same scenario reduced. FAULTS_SEED=N replays a run.
faults: install
	FAULTS_SIZE=full $(PY) -m pytest -q -p no:cacheprovider -s tests/faults $(PYTEST_ARGS)

promtool-check: system-deps
	bash deploy/prometheus/check.sh

compose-check: install
	$(PY) deploy/compose_check.py

# deploy/requirements.lock, the pinned and hashed runtime dependencies deploy/Dockerfile installs:
# after a change of pyproject.toml's dependencies (tests/unit/test_deploy_files.py checks it
# still satisfies them); `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release.
lock: install
	$(PY) -m pip install -q 'pip-tools>=7.4'
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		--output-file=deploy/requirements.lock pyproject.toml

# Kubernetes manifests (deploy/kubernetes) against the schemas kubernetes-validate ships (offline).
k8s-check: install
	$(PY) deploy/kubernetes/check.py

test: system-deps install lint typecheck promtool-check compose-check k8s-check
	$(PY) -m pytest -q -p no:cacheprovider tests $(XDIST) $(PYTEST_ARGS)

$(VENV)/.installed-bench: $(STAMP)
	SALES_COMPILE=0 $(PY) -m pip install -q -e '.[test,bench]'
	@rm -f $(COMPILED)
	@touch $@

# the bench extra first: reinstalling the package (pure) drops the compiled fold, rebuilt next
bench: $(VENV)/.installed-bench install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var build streams/compiled.json
	find streams -name '*.so' -delete
