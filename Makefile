# Two commands do all the set-up on a fresh machine (see README.md):
#   make report   build .venv if missing, install, run the batch report on the default data
#   make test     build .venv if missing, install, run the test suite
# Everything else here is a helper of those two.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Re-install whenever the dependency list changes.
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# UMAP's numba kernels are compiled once and cached here, so later processes (every notebook
# kernel, every test worker) load them instead of recompiling; numba reads it at its first import.
export NUMBA_CACHE_DIR ?= $(CURDIR)/data/cache/numba

# Python caches each module's bytecode when it first imports it (the default; some machines turn it
# off with PYTHONDONTWRITEBYTECODE=1, which makes every kernel recompile torch and friends).
export PYTHONDONTWRITEBYTECODE =

.PHONY: report test bench venv browser clean-venv

report: $(STAMP)
	$(VENV)/bin/rae-explore report $(REPORT_ARGS)

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH_ARGS)

venv: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# One resolver run, torch pinned: the CPU wheel on disk; an unpinned torch pulls a CUDA build.
	# --no-compile: pip would byte-compile all ~16,000 files of the environment one at a time (half
	# the install); Python compiles and caches the modules it imports instead (see below).
	$(PY) -m pip install --disable-pip-version-check --no-compile torch==2.13.0 -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (rae_explore)"
	rm -f $(VENV)/.installed-*
	touch $@

# Headless Chromium for the offline-HTML tests (Debian packages chromium, chromium-driver).
browser:
	@sh scripts/ensure_chromium.sh

clean-venv:
	rm -rf $(VENV)
