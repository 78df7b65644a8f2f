# The front door: `make run` runs the whole stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint typecheck fmt bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m services.devstack

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared services

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.escalation --tickets 1000 5000
	$(BIN)/python -m bench.open_tickets --tickets 10000 --cache 500
	$(BIN)/python -m bench.reports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
