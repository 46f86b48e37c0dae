# Two commands for a new machine: `make run` (the bridge against the built-in simulator)
# and `make test`. Each creates .venv with pip when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-usb lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/posbridge serve --terminal simulator

# The USB tests (a fake Android terminal on umockdev's fake bus) are their own step:
# `make test-usb`. They skip with the reason where umockdev is missing.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not usb"

test-usb: $(STAMP)
	$(BIN)/python -m pytest -m usb

# The bridge beside a bare Starlette app and a raw asyncio responder, its idle CPU, the
# same at a journal of 1,000,000 payments, and beside pywebdriver when PYWEBDRIVER names a
# checkout of it (make bench PYWEBDRIVER=../pywebdriver; skipped with a note otherwise).
bench: $(STAMP)
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/idle_cpu.py
	$(BIN)/python bench/journal_scale.py
	$(BIN)/python bench/peers.py $(if $(PYWEBDRIVER),--pywebdriver $(PYWEBDRIVER))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache \
	    clients/typescript/node_modules clients/typescript/dist
