# Entry points: `make demo` runs the shop with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQUIREMENTS := requirements.txt requirements-dev.txt
# The stamp's name carries a checksum of the requirements: a changed pin installs again,
# an untouched one (even with a newer mtime after a checkout) does not.
REQUIREMENTS_SUM := $(shell cat $(REQUIREMENTS) 2>/dev/null | cksum | cut -d' ' -f1)
INSTALLED := $(VENV)/.installed-$(REQUIREMENTS_SUM)

# A fresh database per run in CI, so a migration rewritten in place cannot meet an old schema.
ifeq ($(CI),true)
PYTEST_ARGS ?= --create-db
else
PYTEST_ARGS ?=
endif

export PIP_NO_INPUT := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install demo test fuzz lint fmt serve services clean distclean

help:
	@echo "make demo       set up and run the shop with demo data on http://127.0.0.1:8000"
	@echo "make test       ruff, then the whole test suite against real PostgreSQL and Redis"
	@echo "make fuzz       the property tests with fresh random cases, many more of them"
	@echo "make lint       ruff check, ruff format --check and the import contract (lint-imports)"
	@echo "make fmt        ruff format and ruff check --fix"
	@echo "make serve      gunicorn with the production settings on http://127.0.0.1:8000, uvicorn on 8001"
	@echo "make services   start PostgreSQL and Redis if they are installed but stopped"
	@echo "make clean      remove caches, collected static files and var/"
	@echo "make distclean  clean, and remove .venv and the embedded SQLite database"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) \
		|| { rm -rf $(VENV); echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }

$(INSTALLED): | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	@bash scripts/demo.sh

services:
	@bash scripts/services.sh up

# pyproject.toml names the test settings; a DJANGO_SETTINGS_MODULE left in the shell would
# win over it, so pytest runs without one. Exit code 5 (no tests collected) fails too.
test: $(INSTALLED)
	@bash scripts/services.sh up
	@bash scripts/services.sh chromium
	@bash scripts/services.sh tools
	@$(PY) -c 'import playwright.sync_api' \
		|| { echo "Playwright's Python package is missing from $(VENV) (it is in requirements-dev.txt)" >&2; exit 1; }
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo
	@rc=0; env -u DJANGO_SETTINGS_MODULE $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; fi; \
	exit $$rc

# `make test` replays the same property-test cases in CI; this draws new ones (the "fuzz"
# profile in tests/conftest.py) to find what those fixed cases miss. 5,000 cases of one test
# can outlast the suite's 300 s per-test limit, so this run allows half an hour each.
fuzz: $(INSTALLED)
	@bash scripts/services.sh up
	@rc=0; HYPOTHESIS_PROFILE=fuzz env -u DJANGO_SETTINGS_MODULE $(PY) -m pytest $(PYTEST_ARGS) \
		-m hypothesis --timeout 1800 tests || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no property tests: that is a failure" >&2; fi; \
	exit $$rc

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

fmt: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The production stack on this machine: production settings, whitenoise, gunicorn, and uvicorn
# beside it for the live channel's socket on 8001 (the pages are told so: LIVE_SOCKET_URL).
# Plain HTTP here, so the HTTPS redirect is off unless SECURE_SSL_REDIRECT says otherwise.
serve: $(INSTALLED)
	@export DJANGO_SETTINGS_MODULE=shop.settings.production \
		ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
		SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-0}" \
		GUNICORN_BIND="$${GUNICORN_BIND:-127.0.0.1:8000}" \
		LIVE_BIND="$${LIVE_BIND:-127.0.0.1:8001}"; \
	export LIVE_SOCKET_URL="$${LIVE_SOCKET_URL:-ws://$${LIVE_BIND}/ws/live}"; \
	if [ -z "$${SECRET_KEY:-}" ] && ! grep -qs '^SECRET_KEY=' .env; then \
		echo "==> no SECRET_KEY in the environment or .env: using a throwaway one" >&2; \
		export SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	fi; \
	$(PY) scripts/ensure_database.py; \
	$(PY) manage.py migrate --noinput; \
	$(PY) manage.py collectstatic --noinput --verbosity 0; \
	$(PY) -m live.serve & live=$$!; trap 'kill $$live 2>/dev/null' EXIT; \
	$(VENV)/bin/gunicorn --config gunicorn.conf.py

clean:
	rm -rf staticfiles var .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) db.sqlite3
