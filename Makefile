# The study's two commands: `make book` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PROFILE ?= default
NB ?=
P ?=
OUT ?=
ARGS ?=

# The kernels that papermill starts must find the environment's python.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# With the real data linked (data/) or named ($CAMLIB_DATA), the book must use it: absent data is then an error.
REQUIRE_DATA := $(shell { test -d data || test -n "$${CAMLIB_DATA:-}"; } && echo --require-data)
# Quiet Jupyter's path-migration notice; keep PyTorch's CPU threads sane.
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help env book notebooks notebook test bench test-gpu bench-gpu clean distclean

help:
	@echo "make book                      set up, execute every notebook (default profile), render _build/html"
	@echo "make test                      set up, run the test suite (notebooks on their smoke profile)"
	@echo "make notebook NB=00 [PROFILE=smoke] [P=\"device=cuda top_k=3\"] [OUT=dir]   one chapter,"
	@echo "                               written to _build/runs/<profile>/ unless OUT is given (the book's is book/chapters)"
	@echo "make bench [ARGS=\"--batches 1 4\"]   install the peers (the bench extra), time camlib's pipeline against them"
	@echo "                               (benchmarks/bench_pipeline.py; results in benchmarks/results/pipeline-<cpu|cuda>.jsonl)"
	@echo "make test-gpu                  on a CUDA machine: every test that has a CUDA case (benchmarks/gpu_check.sh)"
	@echo "make bench-gpu                 on a CUDA machine: the GPU benchmarks, results in benchmarks/results/*-cuda.jsonl"
	@echo "make clean                     remove executed notebooks and the rendered book"
	@echo "make distclean                 also remove the environment (.venv)"

# The environment: created once, refreshed when pyproject.toml changes.
env: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[viz,coco,study,book,test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

notebooks: $(STAMP)
	$(BIN)/python -m camlib.book.runner all --profile $(PROFILE) --output $(or $(OUT),book/chapters) $(REQUIRE_DATA)

book: notebooks
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

notebook: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make notebook NB=00 [PROFILE=smoke] [P=\"key=value ...\"]"; exit 2; }
	$(BIN)/python -m camlib.book.runner $(NB) --profile $(PROFILE) --output $(or $(OUT),_build/runs/$(PROFILE)) $(foreach p,$(P),-p '$(p)')

test: $(STAMP)
	$(BIN)/python -m pytest --durations=15

# The peers (TorchCAM, pytorch-grad-cam) only here: `make book` and `make test` never install them.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_pipeline.py $(ARGS)

# The GPU checks: one command each, on a machine with a CUDA GPU (see benchmarks/gpu_check.sh).
test-gpu: $(STAMP)
	PYTHON=$(BIN)/python bash benchmarks/gpu_check.sh tests

bench-gpu: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	PYTHON=$(BIN)/python bash benchmarks/gpu_check.sh bench

clean:
	rm -rf _build book/chapters .pytest_cache

distclean: clean
	rm -rf $(VENV)
