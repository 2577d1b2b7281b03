# Two commands a newcomer needs: `make demo` and `make test`. Each builds its own virtual
# environment on first use, so a machine with only Python is enough.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AWS's state machine validator, run by the tests on every exported playbook (node 20 + npm).
ASL_VALIDATOR := $(VENV)/node/node_modules/.bin/asl-validator

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mdepack demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(ASL_VALIDATOR): | $(STAMP)
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node asl-validator@4.0.0

test: lint $(ASL_VALIDATOR)
	$(BIN)/python -m mdepack playbook check playbooks/*.yaml
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
