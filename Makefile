# The two commands that matter: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
UV := $(PYTHON) -m uv
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install system-deps run test lint typecheck check bench clean

install:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --all-extras --frozen --quiet

system-deps:
	@bash scripts/system-deps.sh

run: install system-deps
	PORT=$(PORT) $(UV) run --frozen forge dev

test: install system-deps
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy

check: lint typecheck test

bench: install system-deps
	$(UV) run --frozen python -m bench

clean:
	rm -rf .data .mypy_cache .ruff_cache .pytest_cache
