# The front door: `make run` runs the whole stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser run test test-fast lint typecheck fmt bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The docs test renders /docs in Debian's Chromium. Installed when missing, only as root with
# apt-get; otherwise (or if apt fails) that test skips, and this says so instead of failing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian) for the browser docs test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	      >/dev/null; } || echo "chromium install failed: the browser docs test will skip"; \
	  else \
	    echo "chromium not found (needs root and apt-get to install): the browser docs test will skip"; \
	  fi; }

run: install
	$(BIN)/python -m services.devstack

# Two worker processes (TEST_WORKERS=n to change, 0 for none): on two cores a third only
# slows the stacks down. How tests share them: tests/conftest.py.
test: install browser
	$(BIN)/pytest -n $(or $(TEST_WORKERS),2)

test-fast: install browser
	$(BIN)/pytest -n $(or $(TEST_WORKERS),2) -m "not e2e"

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
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.escalation --tickets 1000 5000
	$(BIN)/python -m bench.open_tickets --tickets 10000 --cache 500
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.feed --events 1000000
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.console
	$(BIN)/python -m bench.console --database postgresql --tickets 100000 --parts queue ticket

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# PNGs of every portal page at desktop and phone widths (and two in dark mode), from a stack
# started on free ports; needs Debian's Chromium (`make browser`).
screenshots: install browser
	$(BIN)/python -m services.web.screenshots --out docs/screenshots
