# Videodolmetschen — the README's commands. Each target installs what it needs itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench lint venv chromium postgres redis clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
	@echo "Installing packages into $(VENV) …"
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# A year of usage history by default, so the managers' dashboard is alive on first look
# (`make run HISTORY=0` for a bare start). `demo` migrates, so `serve` need not say it again;
# Ctrl-C ends the server quietly (uvicorn shuts down; its signal is not a failure of make's).
HISTORY ?= 12
run: $(STAMP)
	@$(BIN)/videodolmetschen demo $(if $(filter 0,$(HISTORY)),--no-history,--history $(HISTORY))
	@$(BIN)/videodolmetschen serve --no-migrate || test $$? -ge 128

lint: $(STAMP)
	$(BIN)/ruff check broker signaling tests bench
	$(BIN)/mypy

chromium:
	@scripts/ensure-chromium.sh

redis:
	@scripts/ensure-redis.sh

# Two workers, each taking whole files (module-scoped servers stay in one process): most tests
# wait on sockets, browsers and timers, so two cores carry two workers well.
TEST_WORKERS ?= 2
test: $(STAMP) chromium redis
	@$(MAKE) --no-print-directory lint
	VD_TEST_DATABASE_URL_PG="$$(scripts/ensure-postgres.sh)" $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP) chromium redis
	@set -e; export VD_TEST_DATABASE_URL_PG="$$(scripts/ensure-postgres.sh)"; \
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
