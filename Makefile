# Two commands do all set-up on a fresh machine with Python 3.11 and pip:
#   make run    start the web app (http://127.0.0.1:8501)
#   make test   install everything the tests need and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml setup.py src/kmseg/engine/_kernels.pyx src/kmseg/engine/kernels.c src/kmseg/engine/kernels.h src/kmseg/engine/_regions.pyx src/kmseg/engine/regions.c src/kmseg/engine/regions.h
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools  # setuptools: the bundled one is old, and audited
	$(PY) -m pip install --quiet -e '.[web,api,dask,dev]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/kmseg app

test: $(VENV)/.installed
	@command -v chromium >/dev/null 2>&1 || sh tools/install-chromium.sh
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
