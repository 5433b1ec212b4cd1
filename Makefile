# LearnLoop: `make demo` and `make test` work on a fresh machine with Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install demo test lint format run db-upgrade export bench clean

$(INSTALLED): pyproject.toml
	@test -n "$(PYTHON)" || { echo "LearnLoop needs Python 3.11 or newer (python3.11 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED) ## A scripted team conversation through the real app, offline
	$(BIN)/learnloop demo

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint ## Lint, then the whole suite (SQLite, and PostgreSQL when reachable)
	$(BIN)/pytest

run: $(INSTALLED) ## Serve your workspace (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, .env); without a token, the sandbox
	@if [ -n "$$SLACK_BOT_TOKEN" ] || grep -Eqs '^\s*(export\s+)?SLACK_BOT_TOKEN=\S' .env; \
	then $(BIN)/learnloop serve; else $(BIN)/learnloop sandbox; fi

db-upgrade: $(INSTALLED)
	$(BIN)/learnloop db upgrade

export: $(INSTALLED)
	$(BIN)/learnloop export --format jsonl

bench: $(INSTALLED) ## Cost per Slack request against a bare Bolt app; summaries and search at 1M TILs; 10k schedules; memory over 100k requests (never part of `make test`)
	$(BIN)/python -m bench.serve_stack
	$(BIN)/python -m bench.summary_scale
	$(BIN)/python -m bench.search_scale
	$(BIN)/python -m bench.scheduling_scale
	$(BIN)/python -m bench.memory_growth

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
