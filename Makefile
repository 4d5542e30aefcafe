# Two commands a newcomer needs: `make demo` and `make test`. Both make .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint fast bench lock lock-upgrade clean

# Only what the locks in requirements/ name, hash-checked: uv by pip, then everything else by uv.
$(BIN)/uv: requirements/uv.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/uv.txt
	touch $@

$(STAMP): $(BIN)/uv pyproject.toml requirements/dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements/dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
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

lock: $(BIN)/uv  ## refresh requirements/*.txt after a change to pyproject.toml (keeps the other pins)
	UV=$(BIN)/uv scripts/lock.sh

lock-upgrade: $(BIN)/uv  ## every locked package at its newest version (the monthly refresh)
	UV=$(BIN)/uv scripts/lock.sh --upgrade

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
