# Two commands a newcomer needs: `make demo` and `make test`. Both make .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,api,github]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job end to end, offline
	$(BIN)/switchboard demo

test: $(STAMP)  ## every test (the real-Letta ones install a Letta server into ~/.cache on first run)
	$(BIN)/python -m pytest

fast: $(STAMP)  ## every test but the real-Letta and browser ones
	$(BIN)/python -m pytest -m "not real_letta and not browser"

lint: $(STAMP)
	$(BIN)/ruff check switchboard tests scripts benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
