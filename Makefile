# Quick start: `make run` (JupyterLab on the embedded emulator) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_LINK := $(VENV)/share/jupyter/labextensions/jupyter-sessions-labextension
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888
# jlpm and jupyter (used by the labextension build scripts) come from the venv.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run emulator test test-python test-ts lint lint-ts openapi-ts stress bench browser-deps java-deps clean

# Installing the package builds the JupyterLab extension (jlpm, from the committed lock).
$(STAMP): pyproject.toml labextension/package.json labextension/yarn.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# A reinstall writes install.json through the develop link into the built extension,
	@# where the next build finds it twice: drop the link and the stray file first.
	if [ -L $(LAB_LINK) ]; then rm $(LAB_LINK); fi
	rm -f jupyter_sessions/labextension/install.json
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	cd labextension && $(CURDIR)/$(BIN)/jlpm install >/dev/null
	touch $(STAMP)

setup: $(STAMP)

## JupyterLab with the sessions side panel, magics and widgets on the embedded emulator.
run: setup
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

## The emulator alone, on http://127.0.0.1:8765/v1
emulator: setup
	$(BIN)/jupyter-sessions emulator --port 8765

## Debian's chromium for the browser tests (needs root or an existing install).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (browser tests will be skipped)"; fi; }

lint: setup lint-ts
	$(BIN)/ruff check jupyter_sessions tests bench
	$(BIN)/ruff format --check jupyter_sessions tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

lint-ts: setup
	cd labextension && jlpm lint:check

## The side panel's TypeScript API types, from the shipped OpenAPI document
## (tests/test_openapi_ts.py checks they are current).
openapi-ts:
	$(PYTHON) scripts/openapi_to_ts.py

## TypeScript unit tests of the side panel (jest).
test-ts: setup
	cd labextension && jlpm test

## Java 17 for local Spark (optional at run time; the Spark tests need it).
java-deps:
	@command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "java is missing: sudo apt-get install openjdk-17-jre-headless (Spark tests will be skipped)"; fi; }

## pytest on PYTEST_WORKERS processes (pytest-xdist); a test file stays in one process, so
## module-scoped servers are started once. Much of a test waits on its processes, so 4
## workers suit 2 cores (6 were no faster). PYTEST_WORKERS=0 runs everything in this process.
PYTEST_WORKERS ?= 4
test-python: setup browser-deps java-deps
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test: lint test-ts test-python

## Soak, fuzz and fault runs (longer; prints figures).
stress: setup
	$(BIN)/python -m pytest -q -m stress -p no:randomly

## sparkmagic (for the import-time comparison) lives in its own environment: it needs
## Kerberos headers to build and brings pandas and notebook along.
.bench/venv/.installed: pyproject.toml
	@if [ "$$(id -u)" = 0 ] && ! dpkg -s libkrb5-dev >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev >/dev/null; fi
	test -x .bench/venv/bin/python || $(PYTHON) -m venv .bench/venv
	.bench/venv/bin/python -m pip install --quiet -e . sparkmagic || echo "sparkmagic could not be installed: its row will say so"
	touch $@

bench: setup java-deps .bench/venv/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info jupyter_sessions/labextension labextension/node_modules labextension/lib
