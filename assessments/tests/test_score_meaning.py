"""Scores say what they are, everywhere, and no flag contradicts the risk level for the same number.

Every modality's demo cases run through the real pipeline (synchronously, as a worker would); then the API
and the results page of each completed one are read as a partner and a clinician would read them. The
radiology cases run on the shipped reference model, so its results must be marked "not for clinical use"
wherever they appear, and signing one off needs an explicit acknowledgement.
"""

import io
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import pipeline, services
from assessments.models import Assessment
from audit.models import AuditEvent
from modalities import registry
from modalities.results import LEVEL_OF_FLAG, RISK_LEVELS

from .helpers_api import make_patient
from .portal import text

pytestmark = pytest.mark.django_db

MODALITIES = [name for name in registry.names() if not name.startswith("test_")]
NOTICE = "Reference model, not for clinical use"


@pytest.fixture
def reference_model(db):
    call_command("register_reference_models", "--activate-outside-demo", stdout=io.StringIO())


def run_demo_cases(tenant, modality: str) -> list[Assessment]:
    patient = make_patient(tenant, sex_at_birth="male", date_of_birth=date(1968, 6, 1))
    done = []
    with organization_scope(tenant.organization):
        for case in registry.demo_cases(modality):
            assessment = services.create_assessment(
                actor="system:test",
                organization=tenant.organization,
                patient=patient,
                modality=modality,
                inputs=dict(case.inputs),
                files=[SimpleUploadedFile(name, content) for name, content in case.files],
            )
            pipeline.run(assessment.pk)
            assessment.refresh_from_db()
            done.append(assessment)
    return done


def flag_level(flag: str) -> int | None:
    level = LEVEL_OF_FLAG.get(flag)
    return RISK_LEVELS.index(level) if level else None


@pytest.mark.parametrize("modality", MODALITIES)
def test_no_page_or_api_response_shows_a_flag_that_contradicts_the_risk_level(tenant_a, reference_model, modality):
    assessments = run_demo_cases(tenant_a, modality)
    completed = [a for a in assessments if a.status == "completed"]
    assert completed, [a.failure_reason for a in assessments]
    api, portal = tenant_a.api("clinician"), tenant_a.client_for(Role.CLINICIAN)
    for assessment in completed:
        body = api.get(f"/api/v1/assessments/{assessment.pk}/").json()
        level = body["risk_level"]
        score = body["results"]["score"]
        if body["risk_score"] is None:
            assert body["risk_score_label"] is None and body["risk_score_unit"] is None
            assert body["results"]["score_withheld"], "a missing score says why"
        else:
            assert body["risk_score_label"] == score["label"] and body["risk_score_unit"] == score["unit"]
            assert score["minimum"] <= body["risk_score"] <= score["maximum"]
        flags = {b["name"]: b["flag"] for b in body["biomarkers"]}
        if score and score["biomarker"] in flags and flag_level(flags[score["biomarker"]]) is not None:
            # The number the headline is: flagged in the level's words, never above the level.
            assert flag_level(flags[score["biomarker"]]) <= RISK_LEVELS.index(level), (score, flags, level)
        if level == "low":
            assert "critical" not in flags.values(), flags
        for contribution in body["explanation"]["contributions"]:
            assert contribution["change"] != 0 and contribution["label"]

        page = portal.get(f"/assessments/{assessment.pk}/")
        summary = text(page).split("Summary", 1)[1].split("Findings", 1)[0]
        if score:
            assert re.search(rf"{re.escape(score['label'])} [\d.]+ {re.escape(score['unit'])}", summary), summary
        else:
            assert body["results"]["score_withheld"] in summary


def test_reference_model_results_are_marked_everywhere_and_need_an_acknowledged_sign_off(tenant_a, reference_model):
    assessment = next(a for a in run_demo_cases(tenant_a, "radiology") if a.status == "completed")
    api = tenant_a.api("clinician")
    model = api.get(f"/api/v1/assessments/{assessment.pk}/").json()["model_version"]
    assert model["reference_model"] is True and model["not_for_clinical_use"] is True and model["notice"] == NOTICE
    listed = api.get("/api/v1/assessments/", {"patient": str(assessment.patient_id)}).json()["results"]
    assert all(item["model_version"]["not_for_clinical_use"] for item in listed if item["model_version"])

    client = tenant_a.client_for(Role.CLINICIAN)
    for url in ("/", f"/patients/{assessment.patient_id}/", f"/assessments/{assessment.pk}/"):
        assert NOTICE in text(client.get(url)), url

    # Signing it off without the acknowledgement is refused on the page, and nothing is signed.
    refused = client.post(f"/assessments/{assessment.pk}/sign-off/", {"note": "looks fine"})
    assert refused.status_code == 400 and "reference model that is not for clinical use" in text(refused)
    with organization_scope(tenant_a.organization):
        assessment.refresh_from_db()
    assert assessment.reviewed_at is None
    signed = client.post(
        f"/assessments/{assessment.pk}/sign-off/", {"note": "pipeline check", "acknowledge_reference_model": "on"}
    )
    assert signed.status_code == 302
    with organization_scope(tenant_a.organization):
        assessment.refresh_from_db()
    assert assessment.reviewed_at is not None and assessment.review_acknowledged_reference_model
    event = AuditEvent.objects.get(action="assessment.signed_off", target_id=str(assessment.pk))
    assert event.details == {"reference_model_acknowledged": True, "version": 1}  # a sign-off names its version
    review = api.get(f"/api/v1/assessments/{assessment.pk}/").json()["review"]
    assert review["reference_model_acknowledged"] is True


def test_a_result_without_a_reference_model_signs_off_without_the_acknowledgement(tenant_a):
    assessment = run_demo_cases(tenant_a, "cvd_risk")[0]
    client = tenant_a.client_for(Role.CLINICIAN)
    page = client.get(f"/assessments/{assessment.pk}/").content.decode()
    assert 'name="acknowledge_reference_model"' not in page and NOTICE not in text(client.get("/"))
    assert client.post(f"/assessments/{assessment.pk}/sign-off/", {"note": ""}).status_code == 302
    event = AuditEvent.objects.get(action="assessment.signed_off", target_id=str(assessment.pk))
    assert event.details == {"version": 1}  # a sign-off names its version, nothing else
