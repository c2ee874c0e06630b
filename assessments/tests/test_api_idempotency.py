"""Idempotency-Key on API POSTs: a retry gets the first response and creates nothing; the same key with
another body is a 409; keys belong to one API client."""

import pytest

from accounts.tenancy import scopes_disabled
from assessments.models import Assessment, Patient, UploadedFile
from medilens.testing.factories import make_api_client

from .helpers_api import (
    GOFF_WHITE_FEMALE,
    PDF,
    assert_error,
    bucket_keys,
    create_payload,
    make_patient,
    multipart_create,
    nothing_stored,
    upload,
)

pytestmark = pytest.mark.django_db

PATIENT = {
    "mrn": "IDEM-1",
    "given_name": "Ida",
    "family_name": "Empotent",
    "date_of_birth": "1980-02-02",
    "sex_at_birth": "female",
}


def _count(model, **filters):
    with scopes_disabled():
        return model.objects.filter(**filters).count()


def test_patient_post_replays_the_first_response(tenant_a, s3_server, s3_bucket):
    api = tenant_a.api("clinician")
    first = api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first.headers
    with nothing_stored(s3_server, s3_bucket):
        again = api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _count(Patient, organization=tenant_a.organization) == 1


def test_same_key_with_another_body_is_409(tenant_a, s3_server, s3_bucket):
    api = tenant_a.api("clinician")
    assert api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201
    with nothing_stored(s3_server, s3_bucket):
        response = api.post(
            "/api/v1/patients/", {**PATIENT, "mrn": "IDEM-2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
        )
        assert_error(response, 409, code="idempotency_key_reused")
        # Nor may the key be reused on another endpoint.
        patient = Patient.objects.with_scopes_disabled().get(organization=tenant_a.organization)  # the one, IDEM-1
        other = api.post("/api/v1/assessments/", create_payload(patient), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
        assert_error(other, 409, code="idempotency_key_reused")


def test_keys_belong_to_one_api_client(tenant_a, tenant_b):
    api = tenant_a.api("clinician")
    assert api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    # Another client of the same organization reuses the key for its own request.
    _, key = make_api_client(tenant_a.organization, access="clinician", name="Second EHR")
    from rest_framework.test import APIClient

    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = second.post(
        "/api/v1/patients/", {**PATIENT, "mrn": "IDEM-9"}, format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response.headers
    # And another organization's client with the very same body gets its own patient.
    theirs = tenant_b.api("clinician").post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != response.json()["id"]
    assert _count(Patient, organization=tenant_a.organization) == 2
    assert _count(Patient, organization=tenant_b.organization) == 1


def test_assessment_json_post_replays_and_creates_one(tenant_a):
    patient = make_patient(tenant_a)
    api = tenant_a.api("clinician")
    payload = create_payload(patient)
    first = api.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    again = api.post("/api/v1/assessments/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(Assessment, patient=patient) == 1
    changed = api.post(
        "/api/v1/assessments/",
        create_payload(patient, inputs={**GOFF_WHITE_FEMALE, "systolic_bp": 140}),
        format="json",
        HTTP_IDEMPOTENCY_KEY="a-1",
    )
    assert_error(changed, 409, code="idempotency_key_reused")
    assert _count(Assessment, patient=patient) == 1


def test_assessment_multipart_post_replays_without_storing_the_file_twice(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a)
    api = tenant_a.api("clinician")

    def post(data=PDF):
        return api.post(
            "/api/v1/assessments/",
            multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload("lab.pdf", data)),
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="m-1",
        )

    first = post()
    assert first.status_code == 201, first.content
    with nothing_stored(s3_server, s3_bucket):
        again = post()
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        # Another file under the same key is another request.
        assert_error(post(PDF + b"% changed"), 409, code="idempotency_key_reused")
    assert _count(UploadedFile, assessment__patient=patient) == 1
    assert len(bucket_keys(s3_server, s3_bucket, prefix=f"org/{tenant_a.organization.pk}/")) == 1


def test_a_refused_request_is_not_replayed_as_success(tenant_a):
    """A 400 is the answer to that body: the retry with the same key and body gets the same 400."""
    api = tenant_a.api("clinician")
    bad = {**PATIENT, "date_of_birth": "2999-01-01"}
    first = api.post("/api/v1/patients/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    again = api.post("/api/v1/patients/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")
    assert_error(first, 400, field="date_of_birth")
    assert_error(again, 400, field="date_of_birth")
    assert _count(Patient, organization=tenant_a.organization) == 0


def test_an_overlong_key_is_400(tenant_a):
    response = tenant_a.api("clinician").post(
        "/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert_error(response, 400, code="invalid_idempotency_key")
    assert _count(Patient, organization=tenant_a.organization) == 0
