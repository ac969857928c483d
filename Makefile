# Licenseflow developer entry points. Two commands matter: `make dev` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= .data
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.install-stamp
PIP_FLAGS ?= --disable-pip-version-check

.DEFAULT_GOAL := help
.PHONY: help dev install test lint fmt worker api migrate bench bench-codec bench-month-end bench-reads fuzz screenshots clean clean-data

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv and install the package with dev extras

dev: $(STAMP) ## run Temporal dev server, Postgres, worker and API (Ctrl-C stops)
	$(BIN)/licenseflow dev

test: $(STAMP) ## lint, type-check and run the test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP) ## ruff check + format check + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: $(STAMP) ## run one worker (TEMPORAL_ADDRESS, DATABASE_URL or embedded Postgres)
	$(BIN)/licenseflow worker

api: $(STAMP) ## run the API on LICENSEFLOW_API_HOST:LICENSEFLOW_API_PORT
	$(BIN)/licenseflow api

migrate: $(STAMP) ## apply database migrations
	$(BIN)/licenseflow migrate

bench: $(STAMP) ## API latency vs the bare SDK (starts its own dev server, Postgres, worker, API)
	$(PY) bench/api_latency.py $(BENCH_ARGS)

bench-codec: $(STAMP) ## payload encryption cost: create-deal and decision, codec on vs off, same run
	$(PY) bench/codec_cost.py $(BENCH_ARGS)

bench-month-end: $(STAMP) ## N deals' period ends at once: settle time, CPU, events, memory vs bare SDK
	$(PY) bench/month_end.py $(BENCH_ARGS)

bench-reads: $(STAMP) ## deal reads (read model vs live) while N deals run the API lifecycle
	$(PY) bench/deal_reads.py $(BENCH_ARGS)

fuzz: $(STAMP) ## schemathesis against the running API; then no deal may be failed, blocked or stuck
	$(PY) bench/fuzz_api.py $(FUZZ_ARGS)

screenshots: $(STAMP) ## Web UI with/without the codec, headless Chromium (running make dev + a deal)
	$(PY) docs/screenshots/capture_codec.py $(SCREENSHOT_ARGS)

clean: ## remove .venv and caches (keeps .data)
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -path ./$(DATA) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data: ## stop embedded Postgres and delete .data (all local workflows, rows, tokens)
	-@test -x $(PY) && $(PY) -c "from pathlib import Path; from store.embedded import stop_embedded_postgres as s; s(Path('$(DATA)'))" 2>/dev/null || true
	rm -rf $(DATA)
