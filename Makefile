# MediLens: the commands a newcomer needs. `make demo` and `make test` work from a clean clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run-$(shell cat requirements.txt | sha1sum | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
# The demo's web port: `PORT=8080 make demo`. Exported: seed_demo's banner and the web process read it.
export PORT ?= 8000

.PHONY: demo seed serve test lint install install-dev check-deploy clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

## demo: set up the embedded default (SQLite, local files, embedded Redis), seed demo data, serve on :$PORT (8000)
demo: install seed serve

seed: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo

# DEBUG stays off: a mistyped URL gets the portal's own 404, not Django's list of every URL pattern;
# WhiteNoise serves the static files (settings: WHITENOISE_USE_FINDERS in the embedded default).
# MEDILENS_DEMO=1 quiets Celery's root warning (medilens/celery.py says why that is safe here).
serve: install
	MEDILENS_DEMO=1 DEMO_PORT=$(PORT) PORTAL_BASE_URL=http://127.0.0.1:$(PORT) \
	$(VENV)/bin/honcho --env /dev/null --procfile Procfile.demo start

## test: the whole suite against PostgreSQL, Redis and a SeaweedFS S3 server started by the tests
test: install-dev
	$(PY) -m pytest -n 2

## lint: ruff
lint: install-dev
	$(VENV)/bin/ruff check .

## check-deploy: Django's deployment checks under production settings (placeholder values, no secrets)
check-deploy: install
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/medilens REDIS_URL=redis://127.0.0.1:6379/0 \
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())') \
	ALLOWED_HOSTS=medilens.example.org AWS_STORAGE_BUCKET_NAME=medilens \
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
