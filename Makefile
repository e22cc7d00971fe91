# omicsnb: `make book` renders the book, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.omicsnb-installed
export PATH := $(abspath $(BIN)):$(PATH)
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
NBVAL_DIR := tests/nbval
# Checked numbers must not depend on the machine's core count: torch's float sums change with the thread count, so the
# quick-profile notebooks are executed and re-checked with one thread (the book itself uses every core).
# Nor on the CPU's instruction set. Where the CPU has AVX2 and FMA (x86-64 since 2013), the checks pin the kernels
# of the libraries under the models to that set: OpenBLAS's Haswell kernels (numpy, scipy), MKL's reproducible AVX2
# branch and oneDNN's AVX2 code (torch), numpy's own loops without AVX-512. Unpinned, an AVX-512 machine computes the
# simulator's expression means in other last digits, draws a few counts differently, and every model trained on them
# drifts from the references. Torch's own vector kernels (ATEN_CPU_CAPABILITY) are left as the caller sets them:
# the result tolerances (omicsnb.compare) absorb those.
CPU_PIN := $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && echo 'OPENBLAS_CORETYPE=Haswell MKL_CBWR=AVX2,STRICT ONEDNN_MAX_CPU_ISA=AVX2 NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"')
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(CPU_PIN)

.PHONY: help setup book test lint unit nbval booktest status regen-nbval bench lab clean

help:
	@echo "make book         set up .venv, run the notebooks at the book profile (unchanged ones are skipped), build _build/html"
	@echo "make book FORCE=1 the same, rerunning every notebook"
	@echo "make test         set up .venv, run unit tests, nbval and a quick-profile book build"
	@echo "make status       list committed notebooks that are stale against code, profile, data, lock or source"
	@echo "make regen-nbval  re-run the committed quick-profile notebooks in $(NBVAL_DIR) (when results change on purpose)"
	@echo "make bench        measure the speed targets (omicsnb bench)"
	@echo "make lab          open the chapter notebooks in JupyterLab (the .venv kernel, omicsnb installed)"

$(STAMP): requirements-lock.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

# Unchanged notebooks (same source, parameters, input files, package code and lock) are skipped, and the run says
# so per notebook; FORCE=1 reruns every one of them.
book: setup
	$(BIN)/omicsnb build --profile book$(if $(filter-out 0 no false,$(FORCE)), --force)

test: lint unit nbval booktest status

lint: setup
	$(BIN)/ruff check omicsnb tests

unit: setup
	$(ONE_THREAD) $(BIN)/python -m pytest tests -m "not slow" -q -n $(JOBS)

# Two pytest workers (pytest-xdist) share the notebooks; each notebook's cells stay on one worker (loadscope), and the
# slow tests that use the one quick book build stay together (loadgroup), so that build happens once.
JOBS ?= 2

# Each notebook nbval executes records its result tables in $(NBVAL_RESULTS) (tests/conftest.py points its kernel
# there); booktest compares them with the committed references instead of executing every chapter a second time.
NBVAL_RESULTS := $(CURDIR)/_build/nbval-results

nbval: setup
	rm -rf $(NBVAL_RESULTS)
	OMICSNB_NBVAL_RESULTS=$(NBVAL_RESULTS) $(ONE_THREAD) $(BIN)/python -m pytest $(NBVAL_DIR) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -q -n $(JOBS) --dist loadscope

# -rs prints why a test was skipped (the browser test, when no Chromium is installed).
booktest: setup
	$(if $(wildcard $(NBVAL_RESULTS)/*.json),OMICSNB_NBVAL_RESULTS=$(NBVAL_RESULTS)) $(ONE_THREAD) $(BIN)/python -m pytest tests -m slow -q -n $(JOBS) --dist loadgroup -rs

# Exits non-zero when a committed executed notebook (book/, tests/nbval/) no longer matches its source, profile,
# input files, the package code (docstrings and comments aside) or the lock file, and says which and why.
status: setup
	$(BIN)/omicsnb status

regen-nbval: setup
	$(ONE_THREAD) $(BIN)/omicsnb run --all --profile quick --out $(NBVAL_DIR) --force

bench: setup
	$(BIN)/omicsnb bench all

# JupyterLab from .venv, rooted at the repository (so `book/` and `notebooks/` paths work), opening notebooks/.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks

clean:
	rm -rf _build
