# Two commands a newcomer needs: `make demo` and `make test`. Each builds its own virtual
# environment on first use, so a machine with only Python is enough.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# AWS's state machine validator, run by the tests on every exported playbook (node 20 + npm).
ASL_VALIDATOR := $(VENV)/node/node_modules/.bin/asl-validator

.PHONY: demo test lint bench locks redis clean

# The demo needs only the pack; the tests need their tools too.
$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) with the pack (first run: under a minute)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "Installing the test tools into $(VENV) (first run: about a minute)..."
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/mdepack demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

$(ASL_VALIDATOR): | $(DEV_STAMP)
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node asl-validator@4.0.0

# The shared-budget tests and benchmark run a real redis-server: Debian's package, installed when
# missing (as root, or with sudo).
redis:
	@command -v redis-server >/dev/null || { \
	  echo "Installing redis-server (Debian package)..."; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get install -y -q redis-server >/dev/null 2>&1 || \
	  { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q redis-server >/dev/null; }; }

test: lint $(ASL_VALIDATOR) redis
	$(BIN)/python -m mdepack playbook check playbooks/*.yaml
	$(BIN)/python -m pytest -n 2 -q

bench: $(DEV_STAMP) redis
	$(BIN)/python bench/run.py

# The bundles install their dependencies (with the redis extra, for a shared rate budget) from
# these hash-pinned locks, one per platform they support; regenerate them (uv from PyPI) when
# pyproject.toml's dependencies change.
LOCKS := src/mdepack/bundle/locks
LAMBDA_PYTHONS := 3.11 3.12 3.13
AZURE_PYTHONS := 3.11 3.12
locks: $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet "uv==0.13.9"
	for py in $(LAMBDA_PYTHONS); do for arch in x86_64 aarch64; do \
	  $(BIN)/uv pip compile --quiet pyproject.toml --extra redis --generate-hashes --custom-compile-command "make locks" \
	    --python-version $$py --python-platform $$arch-manylinux_2_28 -o $(LOCKS)/lambda-py$$py-$$arch.txt || exit 1; \
	done; done
	for py in $(AZURE_PYTHONS); do \
	  $(BIN)/uv pip compile --quiet pyproject.toml --extra azure --extra redis --generate-hashes --custom-compile-command "make locks" \
	    --python-version $$py --python-platform x86_64-manylinux_2_28 -o $(LOCKS)/azure-functions-py$$py-x86_64.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
