# One obvious command for everything a developer does often. Each sets up .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench docs soak
setup: $(BIN)/personalize

$(BIN)/personalize: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: setup          ## the whole system on an embedded broker and Redis; Ctrl-C stops it
	$(BIN)/personalize dev

test: setup          ## every test, hermetic: they start their own broker and Redis
	$(BIN)/pytest

bench: setup         ## benchmarks/: one table of numbers
	$(BIN)/python -m benchmarks

soak: setup          ## chaos soak (docs/soak.md): make soak SOAK="--minutes 30 --seed 7"
	$(BIN)/python -m personalize.cli soak $(SOAK)

docs: setup          ## regenerate docs/schemas and docs/asyncapi.json from schemas/
	$(BIN)/personalize docs
