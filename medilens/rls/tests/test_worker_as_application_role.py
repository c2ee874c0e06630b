"""A real Celery worker connected as ``medilens_app`` runs an assessment end to end: the task finds its
assessment through the narrow ``app.assessment_id`` policy, and every transaction of the pipeline is
stamped with the organization."""

import time

import pytest
from django.db import connection, transaction

from accounts.tenancy import scopes_disabled
from assessments.models import Assessment, BiomarkerValue
from assessments.tasks import run_assessment
from assessments.tests.helpers_api import make_assessment, make_patient
from medilens.rls.roles import APP_ROLE
from medilens.testing.worker import CeleryWorkerProcess, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "rls-application-role"  # its own queue: the session's superuser worker must not take the task


@pytest.fixture(scope="module")
def app_role_worker(db_roles, django_db_setup, s3_storage, tmp_path_factory):
    database = connection.settings_dict["NAME"]
    worker = CeleryWorkerProcess(
        worker_env(
            database_name=database,
            storage_options=s3_storage,
            extra={"DATABASE_URL": f"postgres://{APP_ROLE}@127.0.0.1:5432/{database}"},
        ),
        tmp_path_factory.mktemp("rls-worker") / "worker.log",
        queues=QUEUE,
        name="rls-app",
    )
    worker.start()
    yield worker
    worker.stop()


def _wait_for(assessment_id, statuses, timeout=60.0) -> Assessment:
    deadline = time.monotonic() + timeout
    while True:
        with scopes_disabled():
            assessment = Assessment.objects.get(pk=assessment_id)
        if assessment.status in statuses or time.monotonic() > deadline:
            return assessment
        time.sleep(0.1)


def test_the_worker_as_the_application_role_completes_an_assessment(app_role_worker, tenant_a, tenant_b):
    patient = make_patient(tenant_a)
    make_patient(tenant_b)  # another organization's rows exist beside it
    with transaction.atomic():
        assessment = make_assessment(tenant_a, patient)
        connection.run_on_commit.clear()  # published below, to the application role's worker only
    run_assessment.apply_async(args=[str(assessment.pk)], queue=QUEUE)
    done = _wait_for(assessment.pk, {Assessment.Status.COMPLETED, Assessment.Status.FAILED})
    assert done.status == Assessment.Status.COMPLETED, (done.status, done.failure_reason)
    assert done.risk_score is not None
    with scopes_disabled():
        assert BiomarkerValue.objects.filter(assessment=done).exists()
    assert "succeeded" in app_role_worker.log_path.read_text()
