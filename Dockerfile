# syntax=docker/dockerfile:1
# One image for web (gunicorn), worker and beat (celery): docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# psycopg[binary], Pillow and torch install as wheels: no compiler, no libpq-dev. libmagic (file(1)'s
# database) is what python-magic detects upload types with. postgresql-client brings pg_dump, pg_restore and
# psql, which manage.py backup and restore run (Debian 12's are version 15, as the database in
# docker-compose.yml; pg_dump must not be older than the server). Pango and the DejaVu fonts are what
# WeasyPrint lays out the PDF reports with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 postgresql-client \
       libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 medilens \
    && useradd --system --uid 10001 --gid medilens --create-home --home-dir /home/medilens \
       --shell /usr/sbin/nologin medilens

WORKDIR /app

# Requirements first: the slow layer is rebuilt only when they change.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# An allowlist, not "COPY . .": the checkout also holds .venv, .git, var/ (the embedded database and
# its generated secret key) and .env, none of which belongs in an image. A new app is added here
# (tests/test_compose.py fails until it is).
COPY manage.py ./
COPY medilens/ medilens/
COPY accounts/ accounts/
COPY assessments/ assessments/
COPY audit/ audit/
COPY modalities/ modalities/
COPY retention/ retention/
COPY kiosk/ kiosk/
COPY reports/ reports/
COPY webhooks/ webhooks/
COPY fhir_export/ fhir_export/
COPY notifications/ notifications/
COPY directory/ directory/
# The app version a backup's manifest records.
COPY pyproject.toml ./
COPY templates/ templates/
COPY static/ static/

# Static files are collected at build time under the production settings (DATABASE_URL set selects
# them, and with them whitenoise's manifest storage; collectstatic opens no database connection).
# The key only satisfies the settings for this one command: a build argument used inline, so it is
# in no ENV of the image. It is not a secret and signs nothing.
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-build-only-not-a-secret
# Likewise a well-formed master key that encrypts nothing (32 zero bytes): the settings require one.
ARG COLLECTSTATIC_FIELD_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
RUN SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" \
    FIELD_ENCRYPTION_KEYS="$COLLECTSTATIC_FIELD_ENCRYPTION_KEY" \
    DATABASE_URL=postgres://collectstatic@127.0.0.1:5432/collectstatic \
    python manage.py collectstatic --noinput

USER medilens
EXPOSE 8000
CMD ["gunicorn", "--config", "python:medilens.gunicorn_config", "medilens.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
