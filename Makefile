# One task runner. `make run` and `make test` are the README's quick start.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 5006
PYTEST_ARGS ?=
SERVE_ARGS ?=

.PHONY: run test bench screenshots lint audit-deps install install-test chromium clean

$(PY):
	"$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,dev]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

run: install
	$(BIN)/connmodel init
	$(BIN)/connmodel demo --if-empty
	$(BIN)/connmodel user ensure-admin
	$(PY) dashboard/serve.py --host $(HOST) --port $(PORT) $(SERVE_ARGS)

test: install-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install-test
	$(PY) bench/store.py
	$(PY) bench/checks.py
	$(PY) bench/refresh.py
	$(PY) bench/dashboard.py
	$(PY) bench/audit.py
	$(PY) bench/cli.py
	$(PY) bench/browser.py

screenshots: install-test
	$(PY) -m pytest tests/ui tests/providers/test_dashboard_connect.py -m screenshots -q

lint: install-test
	$(BIN)/ruff check connmodel dashboard tests bench
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies: pip-audit against PyPI's advisory data
# (needs pypi.org; AUDIT_SERVICE=osv asks api.osv.dev). Where neither answers, it fails with the
# reason in one line (scripts/audit-deps) instead of "could not be audited" for every package.
audit-deps: install-test
	$(PY) scripts/audit-deps

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache
