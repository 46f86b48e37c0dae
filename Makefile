# Two commands for a new machine: `make run` (the bridge against the built-in simulator)
# and `make test`. Each creates .venv with pip when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-java test-usb bundle test-bundle lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/posbridge serve --terminal simulator

# The USB tests (a fake Android terminal on umockdev's fake bus) are their own step:
# `make test-usb`. They skip with the reason where umockdev is missing.
# The Java suite first: its `verify` also packages the demo terminal's jar, which the
# bridge's end-to-end tests run against as well as against the Python simulator.
test: $(STAMP)
	$(MAKE) --no-print-directory test-java
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not usb and not frozen"

# The Java terminal library (terminal/): its unit tests, jqwik properties and the shared
# vectors (spec/vectors), with the JVM's org.json and with Android's; and the demo terminal's
# jar, terminal/demo/target/posbridge-terminal-demo.jar. Maven is quiet unless a
# test fails; the summary line counts the tests and the properties' tries.
MVN := mvn -B -q -Dstyle.color=never
test-java:
	@command -v mvn >/dev/null && command -v javac >/dev/null || { \
	    echo "make test-java needs Maven and a JDK (11 or newer) for terminal/:" \
	         "apt-get install maven default-jdk-headless (.ci/run does)" >&2; exit 1; }
	@echo "$(MVN) -f terminal/pom.xml verify"
	@log=$$(mktemp) && if $(MVN) -f terminal/pom.xml verify >$$log 2>&1; then rm -f $$log; \
	    else sed 's/\x1b\[[0-9;]*m//g' $$log >&2; rm -f $$log; python3 terminal/summary.py; \
	    exit 1; fi
	@python3 terminal/summary.py

test-usb: $(STAMP)
	$(BIN)/python -m pytest -m usb

# The self-contained bundle for shops (no Python needed on the PC): dist/posbridge/, made by
# PyInstaller from packaging/pyinstaller/posbridge.spec in a venv of its own (build/venv:
# posbridge as pip installs it, its runtime dependencies and PyInstaller), so that .venv
# never holds PyInstaller. docs/operations.md, "The self-contained bundle".
# `make test-bundle` builds it (with `make bundle`) and runs it in a clean environment.
BUNDLE_VENV  := build/venv
BUNDLE_STAMP := $(BUNDLE_VENV)/.installed
BUNDLE_DIST  ?= dist
BUNDLE_WORK  ?= build/pyinstaller

$(BUNDLE_STAMP): pyproject.toml packaging/pyinstaller/requirements.txt
	test -x $(BUNDLE_VENV)/bin/python || $(PYTHON) -m venv $(BUNDLE_VENV)
	$(BUNDLE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BUNDLE_VENV)/bin/python -m pip install --quiet -r packaging/pyinstaller/requirements.txt .
	touch $(BUNDLE_STAMP)

bundle: $(BUNDLE_STAMP)
	$(BUNDLE_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	$(BUNDLE_VENV)/bin/pyinstaller --noconfirm --log-level WARN --distpath $(BUNDLE_DIST) \
	    --workpath $(BUNDLE_WORK) packaging/pyinstaller/posbridge.spec

test-bundle: $(STAMP)
	$(BIN)/python -m pytest -m frozen

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
	    clients/typescript/node_modules clients/typescript/dist terminal/*/target
