# Two commands on a fresh clone:
#   make run    set up a virtual environment, seed the demo community, serve on :8080
#   make test   set up the same environment and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint

$(BIN)/peerrooms: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/peerrooms

run: setup
	$(BIN)/peerrooms demo
	$(BIN)/peerrooms serve

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/mypy server
