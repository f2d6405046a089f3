# Two commands do all set-up on a fresh machine:
#   make run    virtual environment + install + the baseline scenario on the embedded defaults
#   make test   virtual environment + install + the test suite (what CI runs)
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench explore assets clean python browser

# Find a Python >= 3.12, preferring 3.12 (the tested one): $(PYTHON) if given, python3.12 on the PATH,
# versions folder (pyenv's global version may be older and its 3.12 shim may not answer).
python:
	@pyenv_root=$${PYENV_ROOT:-$$HOME/.pyenv}; \
	for c in "$${PYTHON:-}" python3.12 $$(ls -d $$pyenv_root/versions/3.12*/bin/python3 2>/dev/null | sort -rV) \
	         python3.13 $$(ls -d $$pyenv_root/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV) python3; do \
	  [ -n "$$c" ] || continue; \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$c"; exit 0; fi; \
	done; \
	echo "error: simmodel needs Python >= 3.12 (Mesa 3.5 does). Install it (e.g. 'pyenv install 3.12' or your OS package python3.12) or run 'make PYTHON=/path/to/python3.12 ...'." >&2; exit 1

$(STAMP): pyproject.toml
	@py=$$($(MAKE) -s python) || exit 1; \
	echo "using $$py ($$($$py --version))"; \
	[ -x $(BIN)/python ] || $$py -m venv $(VENV); \
	$(BIN)/python -m pip install -q --upgrade pip; \
	$(BIN)/python -m pip install -q -e '.[test,ray,explore]'
	@touch $@

run: $(STAMP)
	$(BIN)/simmodel run

# The what-if explorer's front end, installed into the virtual environment once (from the npm registry;
# offline: python -m simmodel.explorer.assets --from DIR): the page, its browser tests and its benchmark need it.
assets: $(STAMP)
	@$(BIN)/python -m simmodel.explorer.assets --check >/dev/null 2>&1 || $(BIN)/python -m simmodel.explorer.assets

# The what-if explorer in the browser (simmodel/explorer/), served on http://127.0.0.1:8765/
# (simmodel explore port=... lang=en ...).
explore: assets
	$(BIN)/simmodel explore

# Two processes, a test file each at a time: most tests wait on a subprocess, and files keep
# their module fixtures (and the Ray tests) to themselves.
# The browser tests drive the explorer in a headless Chromium (Debian's package; Playwright's own download
# cannot be reached from every network). Installed here where apt and root allow; otherwise those tests
# fail saying what is missing (tests/integration/test_explorer_browser.py), they are never skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing Debian's chromium for the browser tests (about 1.5 min)"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "warning: no chromium found and apt-get/root not available: the browser tests will fail; install chromium or set SIMMODEL_CHROMIUM=/path/to/chrome" >&2; fi; }

test: assets browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-all: assets browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m ''

# Every benchmark, one process each, figures into benchmarks/RESULTS.md (26-33 min on 2 cores;
# `$(BIN)/python benchmarks/run_all.py --quick` checks in a minute that the scripts run).
bench: assets browser
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
