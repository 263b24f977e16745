# The two set-up-and-go commands:
#   make run    create .venv, install torch 2.13.0 + the package, run the whole pipeline on
#               the embedded default (simulated) data, write results/ and results/report.html
#   make test   install the test extras and run the test suite
# Variables: PYTHON (interpreter for the venv), CORES (snakemake --cores), CONFIG, ARGS.

PYTHON ?= python3
VENV ?= .venv
CORES ?= all
CONFIG ?= config/config.yaml
ARGS ?=
BIN := $(VENV)/bin
# rules call `promoter-cr`: put the venv first on PATH for every command below
export PATH := $(abspath $(BIN)):$(PATH)
TORCH_VERSION ?= 2.13.0

.PHONY: run test install install-test report lint format clean-results

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first (pinned: an unpinned torch pulls a multi-GB CUDA build), then the package
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[slurm]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,slurm]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --rerun-incomplete $(ARGS)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html

test: install-test
	$(BIN)/python -m pytest -q $(ARGS)

report: install
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html

lint: install-test
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow

format: install-test
	$(BIN)/snakefmt Snakefile workflow
