"""API v1 assessments: create (JSON and multipart), the representation partners code against, list
filters, audit of reads, cancel and retry, attachments."""

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.api.serializers import BiomarkerSerializer
from assessments.models import Assessment, UploadedFile
from audit.models import AuditEvent

from .helpers_api import (
    ASSESSMENT_CONTRACT,
    GOFF_WHITE_FEMALE,
    PDF,
    assert_error,
    bucket_keys,
    create_payload,
    make_assessment,
    make_patient,
    multipart_create,
    nothing_stored,
    upload,
)

pytestmark = pytest.mark.django_db


def test_create_with_json_answers_201_with_the_contract_fields(tenant_a):
    patient = make_patient(tenant_a)
    response = tenant_a.api("clinician").post("/api/v1/assessments/", create_payload(patient), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert ASSESSMENT_CONTRACT <= set(body)
    assert body["patient"] == str(patient.pk) and body["modality"] == "cvd_risk"
    assert body["status"] == "queued"
    assert body["risk_score"] is None and body["risk_level"] == "" and body["confidence"] is None
    assert body["failure_reason"] == "" and body["biomarkers"] == [] and body["explanation"] is None
    assert [s["name"] for s in body["stages"]] == ["validate", "equations", "explain"]
    assert all(s["status"] == "pending" for s in body["stages"])
    assert body["queued_at"] and body["created_at"] and body["completed_at"] is None
    # The resolved inputs (the risk factors the analysis will run on), in mg/dL: the unit is a field of its own.
    assert body["inputs"]["total_cholesterol"] == 213 and body["inputs"]["race"] == "white"
    assert body["inputs"]["cholesterol_unit"] == "mg/dL" and "total_cholesterol_mg_dl" not in body["inputs"]
    with scopes_disabled():
        assessment = Assessment.objects.get(pk=body["id"])
    assert assessment.organization_id == tenant_a.organization.pk
    assert assessment.requested_by_client_id == tenant_a.api_clients["clinician"].pk
    assert AuditEvent.objects.filter(action="assessment.created", target_id=body["id"]).count() == 1


def test_inputs_default_to_the_patients_record(tenant_a):
    patient = make_patient(tenant_a, sex_at_birth="male", current_smoker=True, treated_hypertension=True)
    response = tenant_a.api("clinician").post(
        "/api/v1/assessments/",
        create_payload(
            patient,
            inputs={"total_cholesterol": 5.5, "hdl_cholesterol": 1.3, "cholesterol_unit": "mmol/L", "systolic_bp": 130},
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    inputs = response.json()["inputs"]
    assert inputs["sex"] == "male" and inputs["smoker"] is True and inputs["bp_treated"] is True
    assert inputs["age"] == patient.age
    assert abs(inputs["total_cholesterol"] - 212.7) < 0.5  # 5.5 mmol/L x 38.67
    assert inputs["cholesterol_unit"] == "mg/dL" and inputs["entered"]["cholesterol_unit"] == "mmol/L"


def test_create_multipart_with_inputs_as_a_json_string_and_a_pdf_attachment(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a)
    before = bucket_keys(s3_server, s3_bucket)
    response = tenant_a.api("clinician").post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload("referral.pdf", PDF, "application/pdf")),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["inputs"]["systolic_bp"] == 120
    [file] = body["files"]
    # A neutral name, not the uploaded one (issue 10: uploaded names often hold a patient's name or MRN).
    assert file["kind"] == "attachment" and file["filename"] == f"cvd-risk-document-{timezone.localdate()}-1.pdf"
    assert "original_filename" not in file
    assert file["content_type"] == "application/pdf" and file["size"] == len(PDF)
    assert file["sha256"] == file["sha256_original"] == hashlib.sha256(PDF).hexdigest()
    with scopes_disabled():
        row = UploadedFile.objects.get(pk=file["id"])
    assert bucket_keys(s3_server, s3_bucket) - before == {row.storage_key}


def test_list_filters(tenant_a, tenant_b):
    ada, bob = make_patient(tenant_a), make_patient(tenant_a, given_name="Bob")
    first = make_assessment(tenant_a, ada)
    second = make_assessment(tenant_a, ada, modality="test_sleep")
    third = make_assessment(tenant_a, bob)
    make_assessment(tenant_b, make_patient(tenant_b))
    with organization_scope(tenant_a.organization):
        services.cancel_assessment(actor="system:test", assessment=third)
        Assessment.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=10))
    api = tenant_a.api("read_only")

    def ids(**params):
        response = api.get("/api/v1/assessments/", params)
        assert response.status_code == 200, response.content
        return [a["id"] for a in response.json()["results"]]

    everything = ids()
    assert everything == [str(third.pk), str(second.pk), str(first.pk)]  # newest first, own tenant only
    assert ids(patient=str(ada.pk)) == [str(second.pk), str(first.pk)]
    assert ids(modality="test_sleep") == [str(second.pk)]
    assert ids(status="cancelled") == [str(third.pk)]
    assert ids(status="queued", patient=str(ada.pk)) == [str(second.pk), str(first.pk)]
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_after=cutoff) == [str(third.pk), str(second.pk)]
    assert ids(created_before=cutoff) == [str(first.pk)]
    assert ids(modality="no_such_thing") == []

    assert_error(api.get("/api/v1/assessments/", {"status": "exploded"}), 400, field="status")
    assert_error(api.get("/api/v1/assessments/", {"created_after": "yesterday"}), 400, field="created_after")
    assert_error(api.get("/api/v1/assessments/", {"patient": "not-a-uuid"}), 400, field="patient")
    other = make_patient(tenant_b)
    assert_error(api.get("/api/v1/assessments/", {"patient": str(other.pk)}), 404)


def test_retrieve_audits_assessment_viewed_and_isolates_tenants(tenant_a, tenant_b):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    response = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment.pk}/")
    assert response.status_code == 200
    assert ASSESSMENT_CONTRACT <= set(response.json())
    event = AuditEvent.objects.get(action="assessment.viewed", target_id=str(assessment.pk))
    assert event.actor_api_client_id == tenant_a.api_clients["read_only"].pk
    other = tenant_b.api("clinician")
    assert_error(other.get(f"/api/v1/assessments/{assessment.pk}/"), 404, code="not_found")
    assert_error(other.post(f"/api/v1/assessments/{assessment.pk}/cancel/"), 404)
    assert_error(other.post(f"/api/v1/assessments/{assessment.pk}/retry/"), 404)
    assert_error(other.get(f"/api/v1/assessments/{assessment.pk}/attachments/"), 404)
    assert AuditEvent.objects.filter(action="assessment.viewed", target_id=str(assessment.pk)).count() == 1
    assessment.refresh_from_db()
    assert assessment.status == "queued"


def test_cancel_a_queued_assessment_then_again_is_409(tenant_a):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    api = tenant_a.api("clinician")
    response = api.post(f"/api/v1/assessments/{assessment.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["cancelled_at"]
    again = api.post(f"/api/v1/assessments/{assessment.pk}/cancel/")
    assert_error(again, 409, code="invalid_transition")
    assert AuditEvent.objects.filter(action="assessment.cancelled", target_id=str(assessment.pk)).count() == 1


def test_read_only_key_cannot_cancel_retry_or_create(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a)
    assessment = make_assessment(tenant_a, patient)
    api = tenant_a.api("read_only")
    with nothing_stored(s3_server, s3_bucket):
        assert_error(api.post(f"/api/v1/assessments/{assessment.pk}/cancel/"), 403)
        assert_error(api.post("/api/v1/assessments/", create_payload(patient), format="json"), 403)
        assert_error(
            api.post(
                f"/api/v1/assessments/{assessment.pk}/attachments/",
                {"files": upload("a.pdf", PDF)},
                format="multipart",
            ),
            403,
        )
    assessment.refresh_from_db()
    assert assessment.status == "queued"


def test_retry_is_only_for_failed_assessments(tenant_a):
    patient = make_patient(tenant_a)
    queued = make_assessment(tenant_a, patient)
    api = tenant_a.api("clinician")
    assert_error(api.post(f"/api/v1/assessments/{queued.pk}/retry/"), 409, code="invalid_transition")

    failing = make_assessment(tenant_a, patient, modality="test_sleep", inputs={"fail": True})
    with organization_scope(tenant_a.organization):
        assert pipeline.run(failing.pk) == "failed"
    body = api.get(f"/api/v1/assessments/{failing.pk}/").json()
    assert body["status"] == "failed" and body["failure_reason"] == "The test analyzer was asked to fail."
    assert [s["status"] for s in body["stages"]] == ["completed", "failed", "pending"]

    response = api.post(f"/api/v1/assessments/{failing.pk}/retry/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "queued" and body["failure_reason"] == ""
    assert all(s["status"] == "pending" for s in body["stages"])
    assert_error(api.post(f"/api/v1/assessments/{failing.pk}/retry/"), 409, code="invalid_transition")


def test_completed_results_read_with_biomarkers_and_explanation(tenant_a):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    with organization_scope(tenant_a.organization):
        assert pipeline.run(assessment.pk) == "completed"
    body = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment.pk}/").json()
    assert body["status"] == "completed" and abs(body["risk_score"] - 2.05) < 0.1
    assert body["risk_level"] == "low" and body["confidence"] is None and body["preliminary"] is True
    by_name = {b["name"]: b for b in body["biomarkers"]}
    assert by_name["hdl_cholesterol"]["unit"] == "mg/dL"
    assert by_name["hdl_cholesterol"]["reference_range"] == {
        "low": 40.0,
        "high": None,
        "low_inclusive": True,
        "high_inclusive": True,
    }
    assert by_name["total_cholesterol"]["flag"] == "high"  # 213 > 200
    assert body["explanation"]["summary"].startswith("10-year ASCVD risk")


def test_the_list_shows_each_assessments_biomarkers_as_its_own_page_does(tenant_a):
    # The list serializes every assessment's biomarkers with one serializer (its fields built once): each
    # still gets its own rows, its own modality's labels and risk bands, as retrieving it alone does.
    patient = make_patient(tenant_a)
    first = make_assessment(tenant_a, patient)
    second = make_assessment(tenant_a, patient, inputs={**GOFF_WHITE_FEMALE, "total_cholesterol": 160})
    with organization_scope(tenant_a.organization):
        assert pipeline.run(first.pk) == pipeline.run(second.pk) == "completed"
    api = tenant_a.api("read_only")
    listed = {item["id"]: item["biomarkers"] for item in api.get("/api/v1/assessments/").json()["results"]}
    for assessment in (first, second):
        alone = api.get(f"/api/v1/assessments/{assessment.pk}/").json()["biomarkers"]
        assert listed[str(assessment.pk)] == alone
        # and as a serializer told the assessment outright (the context the list no longer passes) writes them
        with organization_scope(tenant_a.organization):
            told = BiomarkerSerializer(assessment.biomarkers.order_by("category", "name"), many=True,
                                       context={"assessment": assessment}).data  # fmt: skip
        assert json.loads(json.dumps(told, default=str)) == json.loads(json.dumps(alone))
    assert listed[str(first.pk)] != listed[str(second.pk)]
    assert any(row["risk_bands"] for row in listed[str(first.pk)])  # the PCE risk, read in its categories


def test_attachments_can_be_added_and_listed(tenant_a, s3_server, s3_bucket):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    api = tenant_a.api("clinician")
    response = api.post(
        f"/api/v1/assessments/{assessment.pk}/attachments/",
        {"files": [upload("lab.pdf", PDF), upload("letter.pdf", PDF + b"%more")]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    today = timezone.localdate()
    assert sorted(f["filename"] for f in response.json()) == [
        f"cvd-risk-document-{today}-1.pdf",
        f"cvd-risk-document-{today}-2.pdf",
    ]
    listed = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment.pk}/attachments/").json()
    assert {f["id"] for f in listed} == {f["id"] for f in response.json()}
    with scopes_disabled():
        keys = set(UploadedFile.objects.filter(assessment=assessment).values_list("storage_key", flat=True))
    assert keys <= bucket_keys(s3_server, s3_bucket, prefix=f"org/{tenant_a.organization.pk}/")
    with nothing_stored(s3_server, s3_bucket):
        assert_error(
            api.post(f"/api/v1/assessments/{assessment.pk}/attachments/", {}, format="multipart"), 400, field="files"
        )


def test_unknown_assessment_id_is_404_not_500(tenant_a):
    api = tenant_a.api("clinician")
    assert_error(api.get(f"/api/v1/assessments/{uuid.uuid4()}/"), 404)
    assert_error(api.post(f"/api/v1/assessments/{uuid.uuid4()}/cancel/"), 404)
    assert api.get("/api/v1/assessments/not-a-uuid/").status_code == 404
    assert json.loads(api.get(f"/api/v1/files/{10**9}/download/").content)["error"]["status"] == 404


def test_the_list_shows_results_only_to_a_key_that_may_view_them(tenant_a, monkeypatch):
    """Issue 10: the list needed only assessments.view but returned results. No API access lacks
    assessments.view_results today, so the read-only key acts here as a technician, the member role
    without it."""
    from accounts.models import ApiClient
    from accounts.roles import Role, role_has
    from assessments.api.serializers import RESULT_FIELDS

    from .portal import make_assessment as make_completed
    from .portal import make_patient as make_portal_patient

    completed = make_completed(tenant_a, make_portal_patient(tenant_a, "RES-1"), run=True)
    assert completed.status == "completed" and completed.risk_score is not None
    monkeypatch.setattr(
        ApiClient, "role", property(lambda self: Role.TECHNICIAN if self.access == "read_only" else Role.CLINICIAN)
    )
    assert not role_has(tenant_a.api_clients["read_only"].role, "assessments.view_results")

    [limited] = tenant_a.api("read_only").get("/api/v1/assessments/").json()["results"]
    assert limited["id"] == str(completed.pk) and limited["status"] == "completed"
    assert not RESULT_FIELDS & set(limited), RESULT_FIELDS & set(limited)
    assert {"stages", "inputs", "modality", "patient"} <= set(limited)
    assert tenant_a.api("read_only").get(f"/api/v1/assessments/{completed.pk}/").status_code == 403

    [full] = tenant_a.api("clinician").get("/api/v1/assessments/").json()["results"]
    assert RESULT_FIELDS <= set(full) and full["risk_score"] == completed.risk_score
