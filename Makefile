# One obvious command for everything a developer does often. Each sets up .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What `make setup` installs: exact versions with their hashes, from pyproject.toml's ranges (`make lock`).
LOCK := requirements.lock

.PHONY: setup demo test test-fast lint format bench docs soak lock browser
setup: $(BIN)/personalize

$(BIN)/personalize: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: setup          ## the whole system on an embedded broker and Redis; Ctrl-C stops it
	$(BIN)/python -m personalize dev

test: setup browser  ## every test, hermetic: they start their own broker and Redis
	$(BIN)/pytest

test-fast: setup     ## the logic: no server (broker, Redis, SMTP, browser) and no fuzzing; seconds
	$(BIN)/pytest -m "not integration and not fuzz"

browser:             ## the editor's browser tests drive Debian's chromium; install it, or say how
	@sh scripts/need-chromium

lint: setup          ## ruff (rules and format), mypy, and the import contracts of docs/architecture.md
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup        ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup         ## benchmarks/: one table of numbers
	$(BIN)/python -m benchmarks

soak: setup          ## chaos soak (docs/soak.md): make soak SOAK="--minutes 30 --seed 7"
	$(BIN)/python -m personalize soak $(SOAK)

docs: setup          ## regenerate docs/schemas and docs/asyncapi.json from schemas/
	$(BIN)/python -m personalize docs

lock:                ## re-resolve requirements.lock from pyproject.toml's ranges (uv; docs/dependencies.md)
	$(PYTHON) -m pip install --quiet --target .lock-tools 'uv>=0.13,<0.14'
	.lock-tools/bin/uv pip compile pyproject.toml --extra dev --extra test --extra bench --universal \
		--python-version 3.11 --generate-hashes --no-header --upgrade -o $(LOCK)
