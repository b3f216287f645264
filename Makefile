# The two commands of the README: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_DIR := tests/compat
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
export FLASK_APP := wsgi

.PHONY: run test lint typecheck pytest install migrate clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(NODE_STAMP)

migrate: $(STAMP)
	$(BIN)/flask db upgrade

## Serve on http://127.0.0.1:$${PORT:-8000}: SQLite in instance/, dev secrets in keys/, dev sign-in.
run: migrate
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

## Lint, type-check, and the whole suite (unit, protocol, e2e, Better Auth client compatibility).
test: lint typecheck pytest

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules instance .mypy_cache .ruff_cache
