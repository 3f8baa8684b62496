# Two commands do all the set-up (see README.md):
#   make serve   start the MCP server on stdio (ARGS="--transport streamable-http" for HTTP)
#   make test    run the whole test suite
# Set-up output goes to stderr: on stdio, stdout belongs to JSON-RPC.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: serve test bench setup conformance

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 1>&2
	@$(PY) -m pip install -q --upgrade pip 1>&2
	@$(PY) -m pip install -q -e ".[dev]" 1>&2
	@touch $@

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error 1>&2 && touch $@; \
	else echo "npm not found: the MCP Inspector test will be skipped" 1>&2; fi

serve: $(VENV)/.installed
	@exec $(VENV)/bin/dgx-spark-mcp serve $(ARGS)

test: $(VENV)/.installed node_modules/.installed
	$(PY) -m pytest $(ARGS)

bench: $(VENV)/.installed
	$(PY) bench/run_all.py --markdown $(ARGS)

conformance: $(VENV)/.installed
	$(PY) scripts/conformance
