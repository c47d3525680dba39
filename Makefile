# The words people type: run, test, lint, bench.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# The suite runs against PostgreSQL and Redis (make test starts them if needed).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/canopy
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The cache (rate-limit counters; tests clear it) in its own database, apart from the Celery broker.
TEST_CACHE_URL ?= redis://127.0.0.1:6379/10
# Embedded default for make run: SQLite + eager Celery, no server needed.
RUN_ENV := DEBUG=1 DATABASE_URL= REDIS_URL=

.PHONY: run test lint bench venv dev-venv system-deps services migrate clean

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

## run: create the venv, migrate, seed the demo tenant, serve on http://127.0.0.1:8000
run: $(VENV)/.runtime
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py quickstart
	@echo ""
	@echo "Canopy is starting on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/, tenant mightybank, user sam / sam-demo-pass)"
	$(RUN_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

## system-deps: Debian packages the suite needs (installed only when missing)
system-deps:
	bash scripts/ensure-system-deps.sh

## services: start PostgreSQL and Redis if they are not running
services:
	bash scripts/ensure-services.sh

## test: everything the suite needs, the import contracts, then the whole suite on PostgreSQL + Redis + a real Celery worker
test: $(VENV)/.dev system-deps services
	mkdir -p test-artifacts
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py makemigrations --check --dry-run --settings=tests.settings
	$(VENV)/bin/lint-imports
	$(PY) scripts/dependency_diagram.py --check
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CANOPY_CACHE_URL=$(TEST_CACHE_URL) \
		$(PY) -m pytest tests -p no:cacheprovider $(PYTEST_ARGS)

## lint: ruff, mypy (with django-stubs) and the import contracts of pyproject.toml (import-linter)
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) scripts/dependency_diagram.py --check

## bench: run the benchmarks and write docs/benchmarks.md (OIDC vs oidc-provider, SAML signing, propagation)
BENCH_SECONDS ?= 10
bench: $(VENV)/.dev services
	DATABASE_URL=$(TEST_DATABASE_URL)_bench REDIS_URL=redis://127.0.0.1:6379/12 \
		$(PY) bench/run.py --seconds $(BENCH_SECONDS) --out docs/benchmarks.md
	$(PY) bench/saml_bench.py --seconds $(BENCH_SECONDS) >> docs/benchmarks.md
	DATABASE_URL=$(TEST_DATABASE_URL)_propbench $(PY) bench/propagation_bench.py --broker redis://127.0.0.1:6379/12 \
		>> docs/benchmarks.md

clean:
	rm -rf $(VENV) staticfiles test-artifacts canopy.sqlite3
