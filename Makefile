# Two commands on a fresh clone:
#   make run    set up a virtual environment, build the web client, seed the demo community,
#               serve on :8080
#   make test   set up the same and run the whole test suite (the web client's unit tests,
#               then the server's and the browser tests)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The web client is rebuilt when its sources or pinned packages change.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/tsconfig.json web/package.json

.PHONY: setup run test lint web lock upgrade

# Every Python package comes from uv.lock, hashes checked, so a new release upstream cannot
# change what a fresh clone installs. uv itself lives apart from the project's environment
# (a sync removes what the lock does not name) and is pinned by hash in requirements-uv.txt.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV)

$(UV): requirements-uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r requirements-uv.txt
	touch $@

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as on our CI
# machines) every process would otherwise compile its imports from source, about 2 s each,
# and the tests start dozens of server processes.
$(BIN)/peerrooms: pyproject.toml uv.lock $(UV)
	$(UV_ENV) $(UV) sync --quiet --locked --extra dev --compile-bytecode --python $(PYTHON)
	touch $@

# After a change to pyproject.toml's dependencies: `make lock` (only what changed moves);
# `make upgrade` moves every package to its newest allowed release. Commit uv.lock.
lock: $(UV)
	$(UV_ENV) $(UV) lock

upgrade: $(UV)
	$(UV_ENV) $(UV) lock --upgrade

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build --silent

web: web/dist/index.html

# The benchmark's Node socket.io relay (bench/node_relay), the anchor its fan-out is compared
# with; installed from its lock file like the web client's packages.
bench/node_relay/node_modules/.package-lock.json: bench/node_relay/package-lock.json
	cd bench/node_relay && npm ci --no-audit --no-fund --loglevel=error

setup: $(BIN)/peerrooms web/dist/index.html

run: setup
	$(BIN)/peerrooms demo
	$(BIN)/peerrooms serve

# One worker more than there are cores: a test spends part of its time waiting on server
# processes and sockets, and the extra worker fills that (on two cores: 3m07 against 3m46
# with two workers, 3m27 with four). A module's tests stay on one worker, so what a module
# builds once for all its tests (the benchmark smoke run, the crisis model's fit) is built
# once in the run.
WORKERS := $(shell echo $$(( $$(nproc) + 1 )))
PYTEST_PARALLEL := -n $(WORKERS) --dist loadscope

test: setup bench/node_relay/node_modules/.package-lock.json
	cd web && npm test --silent
	$(BIN)/python -m compileall -q server bench tests > /dev/null
	$(BIN)/pytest -q $(PYTEST_PARALLEL)

lint: setup
	$(BIN)/ruff check server tests bench
	$(BIN)/ruff format --check server tests bench
	$(BIN)/mypy server bench tests
	$(BIN)/lint-imports --no-cache
	cd web && npm run typecheck --silent
