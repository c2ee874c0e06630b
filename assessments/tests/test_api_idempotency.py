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


# --- issue 10: no response bodies kept, 48 hours ----------------------------------------------------
def _record(client_row, key):
    from assessments.models import IdempotencyRecord

    with scopes_disabled():
        return IdempotencyRecord.objects.get(api_client=client_row, key=key)


def test_a_record_keeps_the_status_and_the_ids_not_the_response(tenant_a):
    api = tenant_a.api("clinician")
    first = api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="phi-1")
    record = _record(tenant_a.api_clients["clinician"], "phi-1")
    assert (record.response_status, record.resource_ids) == (201, [first.json()["id"]])
    stored = " ".join(str(getattr(record, field.attname)) for field in record._meta.concrete_fields)
    for phi in (PATIENT["given_name"], PATIENT["family_name"], PATIENT["mrn"], PATIENT["date_of_birth"]):
        assert phi not in stored


def test_a_replay_re_reads_the_resource_and_answers_the_first_status(tenant_a):
    api = tenant_a.api("clinician")
    first = api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="reread-1")
    patient_id = first.json()["id"]
    assert api.patch(f"/api/v1/patients/{patient_id}/", {"family_name": "Renamed"}, format="json").status_code == 200
    again = api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="reread-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == patient_id and again.json()["family_name"] == "Renamed"

    # An assessment, a cancel, and attachments likewise: the current state, the first status.
    patient = make_patient(tenant_a)
    created = api.post("/api/v1/assessments/", create_payload(patient), format="json", HTTP_IDEMPOTENCY_KEY="a-9")
    url = f"/api/v1/assessments/{created.json()['id']}/"
    cancelled = api.post(url + "cancel/", HTTP_IDEMPOTENCY_KEY="c-9")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    replayed = api.post("/api/v1/assessments/", create_payload(patient), format="json", HTTP_IDEMPOTENCY_KEY="a-9")
    assert replayed.status_code == 201 and replayed.json()["status"] == "cancelled"
    assert api.post(url + "cancel/", HTTP_IDEMPOTENCY_KEY="c-9").status_code == 200  # not the 409 a rerun gives
    files = {"files": [upload("lab.pdf", PDF)]}
    attached = api.post(url + "attachments/", files, format="multipart", HTTP_IDEMPOTENCY_KEY="f-9")
    files = {"files": [upload("lab.pdf", PDF)]}
    again = api.post(url + "attachments/", files, format="multipart", HTTP_IDEMPOTENCY_KEY="f-9")
    assert attached.status_code == again.status_code == 201
    assert again.json() == attached.json() and _count(UploadedFile, assessment_id=created.json()["id"]) == 1


def test_a_record_expires_after_48_hours(tenant_a):
    from datetime import timedelta

    from django.utils import timezone

    from assessments.api.idempotency import purge_expired
    from assessments.models import IdempotencyRecord
    from assessments.tasks import purge_idempotency_records

    api = tenant_a.api("clinician")
    client_row = tenant_a.api_clients["clinician"]
    assert api.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    assert api.post("/api/v1/patients/", {**PATIENT, "mrn": "IDEM-3"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="recent").status_code == 201
    now = timezone.now()
    with scopes_disabled():
        IdempotencyRecord.objects.filter(key="old").update(created_at=now - timedelta(hours=48, minutes=1))
        IdempotencyRecord.objects.filter(key="recent").update(created_at=now - timedelta(hours=47))
    # At lookup: the expired key no longer names the first request; another body under it is a new request.
    fresh = api.post("/api/v1/patients/", {**PATIENT, "mrn": "IDEM-4"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert _record(client_row, "old").resource_ids == [fresh.json()["id"]]
    # The periodic purge (a Celery beat task) removes what has expired, and only that.
    with scopes_disabled():
        IdempotencyRecord.objects.filter(key="old").update(created_at=now - timedelta(hours=49))
    assert purge_idempotency_records() == 1
    with scopes_disabled():
        assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"recent"}
    assert purge_expired(now=now + timedelta(hours=2)) == 1


def test_the_purge_runs_on_celery_beat(settings):
    from medilens.celery import app

    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
               if entry["task"] == "assessments.tasks.purge_idempotency_records"]
    assert len(entries) == 1 and entries[0]["schedule"] <= 3600
    app.loader.import_default_modules()
    assert "assessments.tasks.purge_idempotency_records" in app.tasks
