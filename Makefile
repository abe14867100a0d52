# Local development and CI entry points. `make run` and `make test` set up
# everything they need: Debian packages from tools/apt-packages-*.txt and a
# virtual environment in $(VENV) with the package installed in editable mode.
# `make run` installs only what the appliance needs; `make test` adds the test
# tools (pytest, Playwright, Chromium, ...).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# Port of the web app in `make run`.
PORT ?= 8080

.PHONY: help run test lint apt-dev apt-test apt-package clean deb deb-arm64 test-package test-package-arm64 requirements

help:
	@echo "make run    run the web app and the inbox watcher in the foreground"
	@echo "make test   run the test suite"
	@echo "make lint   run ruff and mypy"
	@echo "make deb    build the Debian package for this machine into build/deb/"
	@echo "make deb-arm64   build the arm64 package in an emulated chroot (build/deb-arm64/)"
	@echo "make test-package   build the .deb and test it in a Bookworm container"
	@echo "make test-package-arm64   the same checks in an emulated arm64 container (slow)"
	@echo "make requirements   re-pin debian/requirements*.txt after a dependency change"

apt-dev:
	tools/install-apt-packages tools/apt-packages-dev.txt

apt-test:
	tools/install-apt-packages tools/apt-packages-dev.txt tools/apt-packages-test.txt

$(RUN_STAMP): pyproject.toml tools/apt-packages-dev.txt
	$(MAKE) apt-dev
	$(PYTHON) -m venv $(VENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip install --quiet --editable .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) tools/apt-packages-test.txt
	$(MAKE) apt-test
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip install --quiet --editable '.[test]'
	touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/fit-converter run --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info

# Debian package. The tools are listed in tools/apt-packages-package.txt.
apt-package:
	tools/install-apt-packages tools/apt-packages-package.txt

deb: apt-package
	tools/build-deb

deb-arm64: apt-package
	tools/install-apt-packages tools/apt-packages-arm64.txt
	tools/build-deb --arch arm64

test-package: apt-package
	tests/package/run-container-test

test-package-arm64: apt-package
	tools/install-apt-packages tools/apt-packages-arm64.txt
	tests/package/run-container-test --arch arm64

requirements:
	tools/update-requirements
