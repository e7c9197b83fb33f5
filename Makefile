# TrackNET: every target builds or updates its own virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build of PyTorch; override e.g. TORCH_SPEC="torch==2.13.0 --index-url ..." for another build.
TORCH_SPEC ?= torch==2.13.0
STAMP  := $(VENV)/.tracknet-installed
DEMO_OUT ?= outputs/demo

.PHONY: demo test test-fast test-all lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,onnx,dask]"
	touch $(STAMP)

## The main job: simulated data, end to end, written under $(DEMO_OUT).
demo: $(STAMP)
	$(BIN)/tracknet demo --out $(DEMO_OUT)

## The test suite (slow tests included, in random order; CI runs this).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## The suite without the tests marked slow.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

## Lint, formatting and types (CI runs this too).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## Everything CI checks.
test-all: lint test

bench: $(STAMP)
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs .pytest_cache
