"""The one-transaction shape of the pipeline (assessments.pipeline.in_one_transaction) against real
concurrency, and the task's organization hint (assessments.tasks.run_assessment)."""

import dataclasses
import threading
import time
from datetime import date

import pytest
from django.db import connection

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment, BiomarkerValue
from assessments.tasks import run_assessment
from modalities import registry

DEADLINE_SECONDS = 20


def _patient(tenant):
    with organization_scope(tenant.organization):
        mrn = f"P-{Assessment.objects.count() + 1}"
        return services.create_patient(
            actor="system:test", organization=tenant.organization, consent=True, mrn=mrn, given_name="Ada",
            family_name="Example", date_of_birth=date(1970, 1, 1), sex_at_birth="female",
        )


def _assessment(tenant, **inputs):
    patient = _patient(tenant)
    with organization_scope(tenant.organization):
        return services.create_assessment(
            actor="system:test", organization=tenant.organization, patient=patient, modality="test_sleep",
            inputs=inputs,
        )


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_a_fast_analysis_waits_for_the_lock_and_is_refused_once_it_completed(
    tenant_a, monkeypatch, analysed_in_process
):
    """Another connection's cancel blocks on the row lock the claim took, and once the analysis has
    committed it finds the assessment completed: refused, results kept, nothing written twice."""
    analyzer = registry.get("test_sleep")
    monkeypatch.setattr(analyzer, "modality", dataclasses.replace(analyzer.modality, live_progress=False))
    original = analyzer.analyze
    assessment = _assessment(tenant_a)
    outcome: dict = {}
    canceller_pid: list[int] = []

    def cancel() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                canceller_pid.append(cursor.fetchone()[0])
            with organization_scope(tenant_a.organization):
                services.cancel_assessment(actor="system:test", assessment=assessment)
            outcome["cancel"] = "done"
        except services.TransitionRefused as refusal:
            outcome["cancel"] = refusal.messages[0]
        finally:
            connection.close()

    def analyze_while_a_cancel_waits(context):
        thread = threading.Thread(target=cancel)
        thread.start()
        outcome["thread"] = thread
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (canceller_pid and _waiting_on_a_lock(canceller_pid[0])):
            assert time.monotonic() < deadline, "the cancel never waited on the row lock"
            time.sleep(0.01)
        return original(context)

    monkeypatch.setattr(analyzer, "analyze", analyze_while_a_cancel_waits)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(assessment.pk) == "completed"
    outcome["thread"].join(DEADLINE_SECONDS)
    assert not outcome["thread"].is_alive()
    assert outcome["cancel"] == "An assessment that is completed cannot become cancelled."
    with organization_scope(tenant_a.organization):
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.status == "completed" and final.risk_score == 10.0
        assert BiomarkerValue.objects.filter(assessment=final).count() == 1


def _lookups(captured) -> int:
    """The task's lookup of the assessment's organization (the claim's lock reads every column)."""
    lookup = 'SELECT "assessments_assessment"."organization_id" AS "organization_id" FROM "assessments_assessment"'
    return sum(q["sql"].startswith(lookup) for q in captured.captured_queries)


@pytest.mark.django_db
def test_the_task_takes_the_organization_from_its_message_instead_of_looking_it_up(tenant_a):
    from django.test.utils import CaptureQueriesContext

    hinted, unhinted = _assessment(tenant_a), _assessment(tenant_a)
    with CaptureQueriesContext(connection) as with_hint:
        assert run_assessment.apply(args=[str(hinted.pk), tenant_a.organization.pk]).get() == "completed"
    with CaptureQueriesContext(connection) as without_hint:
        assert run_assessment.apply(args=[str(unhinted.pk)]).get() == "completed"
    assert _lookups(with_hint) == 0
    assert _lookups(without_hint) == 1
    assert len(with_hint.captured_queries) == len(without_hint.captured_queries) - 1


@pytest.mark.django_db
def test_a_wrong_organization_hint_finds_nothing_there_and_the_task_uses_the_assessments_own(tenant_a, tenant_b):
    assessment = _assessment(tenant_a)
    assert run_assessment.apply(args=[str(assessment.pk), tenant_b.organization.pk]).get() == "completed"
    with scopes_disabled():
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.status == "completed" and final.organization_id == tenant_a.organization.pk
        assert BiomarkerValue.objects.filter(assessment=final, organization=tenant_a.organization).count() == 1


@pytest.mark.django_db
def test_a_message_without_a_hint_and_one_for_a_missing_assessment(tenant_a):
    assessment = _assessment(tenant_a)
    assert run_assessment.apply(args=[str(assessment.pk)]).get() == "completed"
    missing = "00000000-0000-4000-8000-000000000000"
    assert run_assessment.apply(args=[missing, tenant_a.organization.pk]).get() == "missing"
    assert run_assessment.apply(args=[missing]).get() == "missing"
