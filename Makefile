# Atalaya: every set-up step is here, so a fresh clone needs only `make run` or `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
SEED ?= 7
PORT ?= 8501
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input

.PHONY: run test lint typecheck pytest bench setup setup-dev assets world clean messages

run: setup assets world  ## start the app on 127.0.0.1:$(PORT) with the embedded defaults
	ATALAYA_DATA_DIR=$(DATA_DIR) $(BIN)/streamlit run app.py \
		--server.address 127.0.0.1 --server.port $(PORT)

test: setup-dev assets world lint typecheck pytest  ## lint, types and the whole test suite

setup: $(VENV)/.runtime
setup-dev: $(VENV)/.dev
assets: static/vendor/.installed
world: $(DATA_DIR)/world.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q -r requirements-dev.txt
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

static/vendor/.installed: node_modules/.package-lock.json tools/install_assets.py $(VENV)/.runtime
	$(BIN)/python tools/install_assets.py --node-modules node_modules --static static
	touch $@

$(DATA_DIR)/world.json: | $(VENV)/.runtime
	$(BIN)/python -m geo.sample --seed $(SEED) --out $(DATA_DIR)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# Two pytest-xdist workers: the browser tests (about half the suite's time) stay together on
# one (tests/conftest.py), so more workers would barely help; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.dev assets
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The store benchmark measures PostGIS too: with ATALAYA_TEST_DATABASE_URL unset and Debian's
# PostgreSQL + PostGIS installed (.ci/run installs them), a throwaway server is started for it.
bench: setup-dev assets  ## measure, and write the figures into BENCHMARKS.md
	@if [ -z "$${ATALAYA_TEST_DATABASE_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		export PG_TEST_DIR=/tmp/atalaya-pg-bench; trap 'tools/pg_test_server.sh stop' EXIT; \
		eval "$$(tools/pg_test_server.sh start)"; \
	fi; \
	$(BIN)/python bench/run.py --out BENCHMARKS.md

clean:
	rm -rf $(VENV) node_modules static/vendor static/basemap .pytest_cache .mypy_cache .ruff_cache

messages: $(VENV)/.dev  ## re-extract user-facing strings and merge them into the catalogues
	$(BIN)/pybabel extract -F babel.cfg -k t -k n:1,2 -k ctx:1c,2 -k _ -k marked -k Message -k plural:1,2 -k plural_marked:1,2 --no-location --sort-output --omit-header \
		-o locales/atalaya.pot .
	$(BIN)/pybabel update -i locales/atalaya.pot -d locales -D atalaya --ignore-obsolete \
		--no-fuzzy-matching
