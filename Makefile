# Local development and CI entry points. `make run` and `make test` set up
# everything they need: Debian packages from tools/apt-packages-*.txt and a
# virtual environment in $(VENV) with the package installed in editable mode.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test lint apt-dev clean

help:
	@echo "make run    run the web app and the inbox watcher in the foreground"
	@echo "make test   run the test suite"
	@echo "make lint   run ruff and mypy"

apt-dev:
	tools/install-apt-packages tools/apt-packages-dev.txt tools/apt-packages-test.txt

$(STAMP): pyproject.toml tools/apt-packages-dev.txt tools/apt-packages-test.txt
	$(MAKE) apt-dev
	$(PYTHON) -m venv $(VENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip install --quiet --editable '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fit-converter run

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info
