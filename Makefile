# RegLab: `make run` starts the product, `make test` installs what the tests need and runs them all,
# `make docs` builds the documentation site (mkdocs.yml) into build/docs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test install install-dev system-deps torch-cpu bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Stamps re-run pip only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server,worker]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Chromium for the browser tests and the real Fashion-MNIST files, from Debian's packages.
SYSTEM_PACKAGES := chromium dataset-fashion-mnist
system-deps:
	@if [ -x /usr/bin/chromium ] && [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else echo "install the Debian packages $(SYSTEM_PACKAGES) for the browser and dataset tests"; fi

# Keras' torch backend for the test that trains the same spec on it, only from a
# local CPU wheel (PIP_FIND_LINKS): PyPI's torch is a multi-GB CUDA build. Without
# such a wheel that test skips and says why.
torch-cpu: | $(BIN)/python
	@wheel=$$(ls $${PIP_FIND_LINKS:-/nonexistent}/torch-*+cpu-*.whl 2>/dev/null | head -n 1); \
	if [ -n "$$wheel" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then $(BIN)/pip install -q "$$wheel"; fi

run: install
	$(BIN)/reglab up --host $(HOST) --port $(PORT)

test: install-dev system-deps torch-cpu
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Warnings (a broken link or anchor, a page left out of the nav) are errors.
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d build/docs

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-output
