# Two commands on a fresh clone:
#   make run    set up a virtual environment, build the web client, seed the demo community,
#               serve on :8080
#   make test   set up the same and run the whole test suite (browser tests included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The web client is rebuilt when its sources or pinned packages change.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/package.json

.PHONY: setup run test lint web

$(BIN)/peerrooms: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent

web: web/dist/index.html

setup: $(BIN)/peerrooms web/dist/index.html

run: setup
	$(BIN)/peerrooms demo
	$(BIN)/peerrooms serve

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check server tests bench
	$(BIN)/ruff format --check server tests bench
	$(BIN)/mypy server bench tests
	cd web && npm run typecheck --silent
