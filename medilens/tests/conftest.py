"""Fixtures of the project package's tests."""

import secrets

import pytest


@pytest.fixture(scope="session")
def observed_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A worker of its own on a queue no other worker consumes, logging JSON, with task metrics on in
    multiprocess mode (so this test process can read its figures from the directory)."""
    from django.db import connection

    from medilens.testing.worker import CeleryWorkerProcess, worker_env

    queue = f"observed-{secrets.token_hex(4)}"
    metrics_dir = tmp_path_factory.mktemp("prometheus")
    extra = {"LOG_FORMAT": "json", "METRICS_ENABLED": "true", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    worker = CeleryWorkerProcess(
        worker_env(database_name=connection.settings_dict["NAME"], storage_options=None, extra=extra),
        tmp_path_factory.mktemp("observed") / "worker.log",
        queues=queue,
        name="observed",
    )
    worker.start()
    worker.queue, worker.metrics_dir = queue, metrics_dir
    yield worker
    worker.stop()
