# Two commands do all set-up on a fresh machine with Python 3.11 and pip:
#   make run    install kmseg with its web app only, and start it (http://127.0.0.1:8501)
#   make test   install everything the tests need and run the whole suite
# Both share .venv; each has its own stamp, so `make test` after `make run` adds the
# test extras, and `make run` after `make test` uses the full install as it is.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python

# The files the install builds kmseg from: a change to any of them re-installs.
# Every engine source, found rather than listed (the Cython-generated _*.c are left out).
ENGINE := src/kmseg/engine
BUILD_DEPS := pyproject.toml setup.py $(wildcard $(ENGINE)/*.pyx $(ENGINE)/*.h) \
              $(filter-out $(ENGINE)/_%.c,$(wildcard $(ENGINE)/*.c))

# Which extras each stamp installs (see pyproject.toml).
$(VENV)/.installed-web: EXTRAS := web
$(VENV)/.installed:     EXTRAS := web,api,dask,dev

.PHONY: run test docs bench clean

$(VENV)/.installed-web $(VENV)/.installed: $(BUILD_DEPS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools  # setuptools: the bundled one is old, and audited
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

# make run: the web install, or the full one if `make test` made it (it holds the web extra too)
RUN_STAMP := $(if $(wildcard $(VENV)/.installed),$(VENV)/.installed,$(VENV)/.installed-web)

run: $(RUN_STAMP)
	$(VENV)/bin/kmseg app

test: $(VENV)/.installed
	@command -v chromium >/dev/null 2>&1 || sh tools/install-chromium.sh
	$(PY) -m pytest

docs: $(VENV)/.installed
	$(PY) -m mkdocs build --strict

bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build dist site .pytest_cache
