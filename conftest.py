"""Session-wide fixtures: a real S3-compatible server (SeaweedFS with authentication on) that every
test's default storage points at, and factories."""

import secrets

import pytest
from boto3.s3.transfer import TransferConfig
from django.test import override_settings

from medilens.testing.s3server import SeaweedS3Server

pytest_plugins = ["medilens.testing.fixtures"]


def pytest_configure(config):
    from medilens.testing import flush

    flush.install()  # a transactional test's closing flush retries a deadlock with the session's worker


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = SeaweedS3Server(
        tmp_path_factory.mktemp("seaweed"), access_key=secrets.token_hex(10), secret_key=secrets.token_hex(20)
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server):
    name = "medilens-test"
    s3_server.create_bucket(name)
    return name


@pytest.fixture(scope="session", autouse=True)
def s3_storage(s3_server, s3_bucket):
    """Point Django's default storage at the test S3 server for the whole session."""
    options = {
        "bucket_name": s3_bucket,
        "endpoint_url": s3_server.endpoint_url,
        "access_key": s3_server.access_key,
        "secret_key": s3_server.secret_key,
        "region_name": "us-east-1",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 300,
        "file_overwrite": False,
        "transfer_config": TransferConfig(use_threads=False),  # as medilens/settings.py, for the same reason
    }
    storages = {
        "default": {"BACKEND": "medilens.storage.PrivateS3Storage", "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, AWS_S3_PUBLIC_ENDPOINT_URL=""):
        yield options


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, s3_storage, tmp_path_factory):
    """One real Celery worker process (solo pool) for the session, on the test database and bucket.

    Tests that use it need committed data: mark them django_db(transaction=True).
    """
    from django.db import connection

    from medilens.testing.worker import CeleryWorkerProcess, worker_env

    worker = CeleryWorkerProcess(
        worker_env(database_name=connection.settings_dict["NAME"], storage_options=s3_storage),
        tmp_path_factory.mktemp("worker") / "worker.log",
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session", autouse=True)
def _redis_key_cleanup():
    """This session's cache and broker keys live under its own prefix on the shared Redis: remove them."""
    yield
    import os

    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    prefix = f"*medilens-test-{os.environ['MEDILENS_TEST_SESSION']}*"
    for key in client.scan_iter(match=prefix, count=1000):
        client.delete(key)
