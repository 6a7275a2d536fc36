# One task runner. `make run` and `make test` are the README's quick start.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 5006
PYTEST_ARGS ?=
# `make test` runs the suite in this many processes (pytest-xdist), each test file whole in one
# (its module-scoped servers start once): ~800 -> ~500 s on this 2-core machine.
# `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2
SERVE_ARGS ?=

# The application's exact versions, with hashes (`make lock` regenerates both from pyproject.toml,
# which keeps only lower bounds for library users): requirements.lock for `make run`,
# requirements-test.lock (the same versions plus every extra) for `make test`.
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
COMPILE := pip compile pyproject.toml --universal --generate-hashes --quiet --custom-compile-command "make lock"

.PHONY: run test docs bench bench-10m bundle screenshots lint audit-deps install install-test chromium nginx wrk clean lock test-latest

$(PY):
	"$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(LOCK) pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: $(TEST_LOCK) $(VENV)/.installed
	$(PY) -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	touch $@

# Resolved for every platform and Python the project supports, keeping the versions already
# locked where pyproject.toml allows (`make lock LOCK_ARGS=--upgrade`: the newest of everything);
# commit both files. uv resolves; pip installs them as usual.
LOCK_ARGS ?=
lock: | $(PY)
	$(BIN)/uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet "uv>=0.5"
	$(BIN)/uv $(COMPILE) $(LOCK_ARGS) --all-extras -o $(TEST_LOCK)
	$(BIN)/uv $(COMPILE) -c $(TEST_LOCK) -o $(LOCK)

install: $(VENV)/.installed

# axe-core for the accessibility tests (tests/ui/test_axe.py), from npm, beside the venv.
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --prefix $(VENV)/axe axe-core@4

install-test: $(VENV)/.installed-test chromium nginx wrk $(AXE)

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

wrk:  # bench/loadgen.py: the HTTP client of bench/api.py (and of its test)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

nginx:  # tests/deploy runs deploy/nginx.conf in front of two dashboards
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx; }

run: install bundle
	$(BIN)/connmodel init
	$(BIN)/connmodel demo --if-empty
	$(BIN)/connmodel user ensure-admin
	$(BIN)/connmodel serve --host $(HOST) --port $(PORT) --worker $(SERVE_ARGS)

# The docs site first: --strict fails on a broken link or anchor (built to a scratch folder;
# not --quiet, which silences the warnings --strict counts).
test: install-test
	site="$$(mktemp -d)" && $(BIN)/mkdocs build --strict --site-dir "$$site"; rc=$$?; rm -rf "$$site"; exit $$rc
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

docs: install-test
	$(BIN)/mkdocs serve

# The upgrade canary: the newest releases of every dependency in a fresh .venv-latest, the unit
# and service tests and one browser walkthrough; names the packages that differ from the lock.
test-latest: install-test
	$(PY) scripts/test-latest $(PYTEST_ARGS)

bench: install-test
	$(PY) bench/store.py
	$(PY) bench/search.py
	$(PY) bench/events.py
	$(PY) bench/checks.py
	$(PY) bench/refresh.py
	$(PY) bench/dashboard.py
	$(PY) bench/audit.py
	$(PY) bench/cli.py
	$(PY) bench/api.py
	$(PY) bench/scale.py
	$(PY) bench/browser.py

# Issue 23's scale: ten million connections in 2,000 profiles (about an hour; each builds its own)
BIG = --connections 10000000 --profiles 2000
bench-10m: install-test
	$(PY) bench/search.py $(BIG) --out bench/results/search-10m.json
	$(PY) bench/store.py $(BIG) --naive-repeats 1 --out bench/results/store-10m.json
	$(PY) bench/dashboard.py $(BIG) --naive-runs 3 --naive-sessions 0 --out bench/results/dashboard-10m.json
	$(PY) bench/audit.py $(BIG) --out bench/results/audit-10m.json
	$(PY) bench/browser.py $(BIG) --pages connmodel,idiomatic,floor --out bench/results/browser-10m.json

# The dashboard components' browser code in one module (dashboard/components/base.py).
bundle: install
	$(PY) -m dashboard.components.bundle

screenshots: install-test
	$(PY) -m pytest tests/ui tests/providers/test_dashboard_connect.py tests/audit/test_html_report.py -m screenshots -q

lint: install-test
	$(BIN)/ruff check connmodel dashboard tests bench
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies: pip-audit against PyPI's advisory data
# (needs pypi.org; AUDIT_SERVICE=osv asks api.osv.dev). Where neither answers, it fails with the
# reason in one line (scripts/audit-deps) instead of "could not be audited" for every package.
audit-deps: install-test
	$(PY) scripts/audit-deps

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache .mypy_cache
