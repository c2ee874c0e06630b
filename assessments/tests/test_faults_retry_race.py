"""Two retries of one failed assessment with the worker's claim between them, as the race happens: both
requests read the assessment while it was failed; the first queues it and the worker claims it; the second
then reaches the row lock. It is decided there (``expected_from``), so the second is refused cleanly and the
running job is untouched (not requeued, not published again), and it completes once."""

import pytest

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, PipelineStage
from audit.models import AuditEvent
from medilens.testing.fixtures import build_tenant
from medilens.testing.wait import wait_until

from .faults import assert_completed_once, unique_name, wait_for_log, wait_for_status
from .helpers_api import make_patient

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _events(assessment, action: str) -> int:
    return AuditEvent.objects.filter(action=action, target_id=str(assessment.pk)).count()


def test_a_retry_that_loses_the_race_to_another_retry_and_the_claim_is_refused_and_changes_nothing(
    isolated_publishing, isolated_workers
):
    tenant = build_tenant(unique_name("clinic-race"))
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor="system:test", organization=tenant.organization, patient=patient, modality="test_sleep",
            inputs={"seconds": 2},
        )
        # An earlier run that failed (its message is still queued: the worker will find it failed and skip it).
        services.transition(assessment.pk, "running", actor="system:test")
        services.transition(assessment.pk, "failed", actor="system:test", reason="The input could not be read.")
        # What each of the two racing requests read before either reached the lock.
        first_read = Assessment.objects.get(pk=assessment.pk)
        second_read = Assessment.objects.get(pk=assessment.pk)
    assert first_read.status == second_read.status == "failed"
    worker = isolated_workers.start("race")
    wait_for_log(worker, f"assessment {assessment.pk}: skipped")  # the failed assessment's old message

    with organization_scope(tenant.organization):
        services.retry_assessment(actor=tenant.users["clinician"], assessment=first_read)

    def sleeping():
        with scopes_disabled():
            return PipelineStage.objects.filter(assessment=assessment, name="sleep", status="running").exists()

    wait_until(sleeping, timeout=30, message="the worker never claimed the retried assessment")
    with scopes_disabled():
        claimed = Assessment.objects.get(pk=assessment.pk)
    assert claimed.status == "running"

    with organization_scope(tenant.organization), pytest.raises(services.TransitionRefused) as refused:
        services.retry_assessment(actor=tenant.users["clinician"], assessment=second_read)
    assert refused.value.messages == [
        "Only a failed assessment can be retried. This assessment is running now, no longer failed: "
        "nothing was changed."
    ]
    # The same refusal through the API: a 409 that says why, never a 500.
    response = tenant.api("clinician").post(f"/api/v1/assessments/{assessment.pk}/retry/")
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "invalid_transition"
    assert "running now" in response.json()["error"]["message"]

    with scopes_disabled():
        untouched = Assessment.objects.get(pk=assessment.pk)
        assert (untouched.status, untouched.started_at, untouched.attempts) == (
            "running", claimed.started_at, claimed.attempts,
        )
        assert _events(assessment, "assessment.queued") == 1  # the first retry's only
    wait_for_status(assessment.pk, {"completed", "failed"}, timeout=60)
    done = assert_completed_once(assessment.pk, biomarkers=1)
    assert done.attempts == claimed.attempts  # run once after the retry: never requeued, never published again
    log = wait_for_log(worker, f"assessment {assessment.pk}: completed")
    assert log.count(f"assessment {assessment.pk}: completed") == 1
