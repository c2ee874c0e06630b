"""Fixtures for backup tests: a backup key, a bucket of the test's own as the default storage, and fresh
targets (a database and a bucket) for restores run as a subprocess, as an operator would run them."""

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from boto3.s3.transfer import TransferConfig
from django.conf import settings
from django.db import connection
from django.test import override_settings
from pyrage import x25519

from medilens.testing.worker import worker_env

BASE_DIR = Path(settings.BASE_DIR)
RESTORE_TIMEOUT = 120


@pytest.fixture
def backup_key():
    key = str(x25519.Identity.generate())
    with override_settings(BACKUP_ENCRYPTION_KEY=key):
        yield key


def storage_options(s3_server, bucket: str) -> dict:
    return {
        "bucket_name": bucket,
        "endpoint_url": s3_server.endpoint_url,
        "access_key": s3_server.access_key,
        "secret_key": s3_server.secret_key,
        "region_name": "us-east-1",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "transfer_config": TransferConfig(use_threads=False),
    }


def new_bucket(s3_server, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def source_storage(s3_server):
    """The default storage is a new, empty bucket for this test (a backup takes the whole bucket)."""
    bucket = new_bucket(s3_server, "backup-source")
    storages = {
        "default": {"BACKEND": "medilens.storage.PrivateS3Storage", "OPTIONS": storage_options(s3_server, bucket)},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield bucket


@pytest.fixture
def fresh_bucket(s3_server):
    return new_bucket(s3_server, "restore-target")


@pytest.fixture
def fresh_database():
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restore_{secrets.token_hex(3)}"
    admin = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as server:
        server.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def target_env(s3_server, *, database: str, bucket: str, key: str, ledger_bucket: str | None = None) -> dict:
    """The environment of a restore run by an operator on a new machine: a fresh database and bucket, the
    backup key, and the purge ledger where the live system kept it."""
    extra = {"BACKUP_ENCRYPTION_KEY": key, "SECRET_KEY": settings.SECRET_KEY}
    if ledger_bucket:
        extra["PURGE_LEDGER_BUCKET_NAME"] = ledger_bucket
    return worker_env(
        database_name=database,
        storage_options={
            "bucket_name": bucket,
            "endpoint_url": s3_server.endpoint_url,
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
        },
        extra=extra,
    )


def manage(*args: str, env: dict, inherit: bool = True) -> subprocess.CompletedProcess:
    """Run manage.py; ``env`` is added to this process's environment, or is the whole of it (inherit=False)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **env} if inherit else env,
        capture_output=True,
        text=True,
        timeout=RESTORE_TIMEOUT,
        check=False,
    )
