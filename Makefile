# The two set-up-and-go commands:
#   make run    create .venv, install torch 2.13.0 + the package (run dependencies only), run the
#               whole pipeline on the embedded default (simulated) data, write results/ and
#               results/report.html
#   make test   install the test extras and run the test suite (TEST_WORKERS parallel pytest
#               workers, one test file per worker at a time)
# Variables: PYTHON (interpreter for the venv), CORES (snakemake --cores), CONFIG (a config file;
# empty: the embedded default config/config.yaml), ARGS (passed to snakemake or pytest).

PYTHON ?= python3
VENV ?= .venv
CORES ?= all
CONFIG ?=
ARGS ?=
TEST_WORKERS ?= auto
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
CONFIG_ARG := $(if $(CONFIG),--configfile $(CONFIG),)

.PHONY: run test install install-test report lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first (pinned: an unpinned torch pulls a multi-GB CUDA build), then the package
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[slurm]"
	$(BIN)/python -m promoter_cr.warmup  # compile memelite's numba kernels once per install
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,slurm]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# rules run the package with the interpreter Snakemake runs under: no activated venv needed
run: install
	$(BIN)/snakemake --cores $(CORES) $(CONFIG_ARG) $(ARGS)
	$(BIN)/snakemake --cores 1 $(CONFIG_ARG) --report results/report.html

test: install-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

report: install
	$(BIN)/snakemake --cores 1 $(CONFIG_ARG) --report results/report.html

lint: install-test
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/ruff check src tests benchmarks workflow/scripts
	$(BIN)/ruff format --check src tests benchmarks workflow/scripts

format: install-test
	$(BIN)/snakefmt Snakefile workflow
	$(BIN)/ruff format src tests benchmarks workflow/scripts
