"""The pipeline through a real Celery worker process, against PostgreSQL, Redis and the S3 test server."""

import pytest

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, BiomarkerValue, PipelineStage
from medilens.testing.fixtures import build_tenant
from medilens.testing.wait import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GOFF_WHITE_FEMALE = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}


def wait_for(assessment_id, statuses, timeout=30.0):
    def reached():
        with scopes_disabled():
            assessment = Assessment.objects.get(pk=assessment_id)
        return assessment if assessment.status in statuses else None

    return wait_until(reached, timeout=timeout, message=f"assessment never reached one of {statuses}")


def make_patient(tenant, **overrides):
    fields = dict(mrn="MRN-1", given_name="Ada", family_name="Example", date_of_birth="1970-01-01",
                  sex_at_birth="female")
    fields.update(overrides)
    with organization_scope(tenant.organization):
        from datetime import date

        fields["date_of_birth"] = date.fromisoformat(fields["date_of_birth"])
        return services.create_patient(actor="system:test", organization=tenant.organization, consent=True, **fields)


def test_api_submitted_assessment_completes_with_the_papers_score(celery_worker):
    tenant = build_tenant("clinic-w")
    patient = make_patient(tenant)
    api = tenant.api("clinician")
    response = api.post(
        "/api/v1/assessments/",
        {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": GOFF_WHITE_FEMALE},
        format="json",
    )
    assert response.status_code == 201, response.content
    # queued at commit; the worker may already have claimed (or finished) it when the response is built
    assert response.json()["status"] in {"queued", "running", "completed"}
    done = wait_for(response.json()["id"], {"completed", "failed"})
    assert done.status == "completed", done.failure_reason
    # Goff et al. 2014 worked example: white female, 2.1% (exact arithmetic 2.05).
    assert abs(done.risk_score - 2.05) < 0.1
    assert done.risk_level == "low"
    body = api.get(f"/api/v1/assessments/{done.pk}/").json()
    assert [s["status"] for s in body["stages"]] == ["completed"] * 3
    names = {b["name"] for b in body["biomarkers"]}
    assert {"total_cholesterol", "hdl_cholesterol", "pce_ascvd_10y"} <= names
    assert body["confidence"] is None
    assert body["explanation"]["summary"].startswith("10-year ASCVD risk")


def test_a_crash_fails_the_assessment_with_a_readable_reason_and_the_worker_survives(celery_worker):
    tenant = build_tenant("clinic-w")
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        crashed = services.create_assessment(actor="system:test", organization=tenant.organization,
                                             patient=patient, modality="test_sleep", inputs={"crash": True})
        refused = services.create_assessment(actor="system:test", organization=tenant.organization,
                                             patient=patient, modality="test_sleep", inputs={"fail": True})
    crashed = wait_for(crashed.pk, {"failed", "completed"})
    assert crashed.status == "failed"
    assert "internal error" in crashed.failure_reason
    refused = wait_for(refused.pk, {"failed", "completed"})
    assert refused.failure_reason == "The test analyzer was asked to fail."
    with scopes_disabled():
        stage = PipelineStage.objects.get(assessment=refused, name="sleep")
    assert stage.status == "failed" and stage.error == "The test analyzer was asked to fail."
    assert celery_worker.process.poll() is None


def test_cancelling_a_running_assessment_stops_it_without_results(celery_worker):
    tenant = build_tenant("clinic-w")
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(actor="system:test", organization=tenant.organization,
                                                patient=patient, modality="test_sleep", inputs={"seconds": 2})
    wait_for(assessment.pk, {"running"})
    # Progress is live: while the middle stage sleeps, the first reads completed and the middle running.
    def stages():
        with scopes_disabled():
            return dict(PipelineStage.objects.filter(assessment=assessment).values_list("name", "status"))

    live = wait_until(lambda: (found := stages())["sleep"] == "running" and found, timeout=10,
                      message="the sleep stage never ran")
    assert live == {"start": "completed", "sleep": "running", "finish": "pending"}
    with organization_scope(tenant.organization):
        services.cancel_assessment(actor="system:test", assessment=assessment)
    # The worker notices at its next stage boundary and ends the task: its log says so.
    wait_until(lambda: f"assessment {assessment.pk}: cancelled" in celery_worker.log_path.read_text(errors="replace"),
               timeout=30, message="the worker never ended the cancelled task")
    with scopes_disabled():
        final = Assessment.objects.get(pk=assessment.pk)
        assert final.status == "cancelled"
        assert not BiomarkerValue.objects.filter(assessment=final).exists()
        stages = dict(PipelineStage.objects.filter(assessment=final).values_list("name", "status"))
    # What had not finished when it was cancelled reads skipped, and the worker wrote nothing after it.
    assert stages == {"start": "completed", "sleep": "skipped", "finish": "skipped"}
