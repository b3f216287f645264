# The two commands of the README: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_DIR := tests/compat
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
NEXT_DIR := examples/nextjs
NEXT_STAMP := $(NEXT_DIR)/node_modules/.installed
export FLASK_APP := wsgi

.PHONY: run test lint typecheck pytest install browser migrate audit bench soak clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(NEXT_STAMP): $(NEXT_DIR)/package.json $(NEXT_DIR)/package-lock.json
	cd $(NEXT_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Debian's chromium for the browser journeys (tests/browser); never a downloaded browser.
browser:
	scripts/install-browser

install: $(STAMP) $(NODE_STAMP) $(NEXT_STAMP) browser

migrate: $(STAMP)
	$(BIN)/flask db upgrade

## Serve on http://127.0.0.1:$${PORT:-8000}: SQLite in instance/, dev secrets in keys/, dev sign-in.
## gthread workers: the browser talks to gunicorn directly (sync workers belong behind a proxy).
run: migrate
	GUNICORN_WORKER_CLASS=$${GUNICORN_WORKER_CLASS:-gthread} $(BIN)/python -OO -m gunicorn -c gunicorn.conf.py wsgi:app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

## Lint, type-check, and the whole suite (unit, protocol, security, e2e, browser, compatibility).
test: lint typecheck pytest

## Known vulnerabilities in the installed dependencies (PyPI's advisory data).
audit: $(STAMP)
	BIN=$(BIN) scripts/audit

## Performance against Better Auth and node-oidc-provider (a few minutes; prints a table).
bench: $(STAMP)
	bench/run

## A bounded soak with mixed traffic (SECONDS=180 by default); prints its figures.
soak: install
	$(BIN)/python -m tests.soak.soak --seconds $${SECONDS:-180}

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules $(NEXT_DIR)/node_modules $(NEXT_DIR)/.next instance .mypy_cache .ruff_cache
