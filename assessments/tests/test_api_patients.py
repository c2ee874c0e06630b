"""API v1 patients: list and search with cursor pagination, create, update, audit of reads, roles and
tenant isolation."""

import uuid
from datetime import date, timedelta

import pytest

from accounts.tenancy import scopes_disabled
from assessments.models import Patient
from audit.models import AuditEvent

from .helpers_api import assert_error, make_assessment, make_patient, nothing_stored

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "mrn": "A-1001",
    "given_name": "Grace",
    "family_name": "Hopper",
    "date_of_birth": "1966-12-09",
    "sex_at_birth": "female",
    "height_cm": "167.0",
    "weight_kg": "61.5",
    "has_diabetes": False,
    "current_smoker": True,
}


def _patients(org):
    with scopes_disabled():
        return Patient.objects.filter(organization=org)


def test_list_paginates_with_a_cursor_without_overlap(tenant_a, tenant_b):
    for i, family in enumerate(["Smith", "Smith", "Smith", "Jones", "Brown"]):
        make_patient(tenant_a, family_name=family, given_name=f"G{i}")
    make_patient(tenant_b, family_name="Other")
    api = tenant_a.api("clinician")

    seen, url, pages = [], "/api/v1/patients/?page_size=2", 0
    while url:
        response = api.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) <= 2
        seen.extend(p["id"] for p in body["results"])
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == {str(p.pk) for p in _patients(tenant_a.organization)}
    # Most recently active first (names are sealed: issue 12); the other tenant's patient is in no page.
    families = [p["family_name"] for p in api.get("/api/v1/patients/?page_size=50").json()["results"]]
    assert families == ["Brown", "Jones", "Smith", "Smith", "Smith"]


def test_search_by_name_and_mrn(tenant_a, tenant_b):
    make_patient(tenant_a, mrn="ZX-77", family_name="Lovelace", given_name="Ada")
    make_patient(tenant_a, mrn="QQ-1", family_name="Turing", given_name="Alan")
    make_patient(tenant_b, mrn="ZX-78", family_name="Lovelace", given_name="Ada")
    api = tenant_a.api("read_only")
    by_name = api.get("/api/v1/patients/", {"q": "lovel"}).json()["results"]
    assert [(p["mrn"], p["family_name"]) for p in by_name] == [("ZX-77", "Lovelace")]
    by_mrn = api.get("/api/v1/patients/", {"q": "zx-"}).json()["results"]  # an MRN prefix: 3+ characters
    assert [p["mrn"] for p in by_mrn] == ["ZX-77"]
    assert api.get("/api/v1/patients/", {"q": "nobody"}).json()["results"] == []


def test_create_returns_201_and_the_patient(tenant_a):
    response = tenant_a.api("clinician").post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mrn"] == "A-1001" and body["family_name"] == "Hopper"
    assert body["current_smoker"] is True and body["consent_recorded_at"] is None
    assert isinstance(body["age"], int) and body["age"] >= 58
    patient = _patients(tenant_a.organization).get(pk=body["id"])
    assert patient.date_of_birth == date(1966, 12, 9)
    assert AuditEvent.objects.filter(action="patient.created", target_id=body["id"]).count() == 1


def test_create_with_consent_records_it(tenant_a):
    body = tenant_a.api("clinician").post("/api/v1/patients/", {**NEW_PATIENT, "consent": True}, format="json")
    assert body.status_code == 201
    assert body.json()["consent_recorded_at"] is not None
    assert "consent" not in body.json()  # write-only


def test_duplicate_mrn_is_a_400_on_the_mrn_field(tenant_a, tenant_b, s3_server, s3_bucket):
    make_patient(tenant_a, mrn="A-1001")
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert_error(response, 400, field="mrn")
    # The same MRN in another organization is another patient.
    assert tenant_b.api("clinician").post("/api/v1/patients/", NEW_PATIENT, format="json").status_code == 201


@pytest.mark.parametrize(
    "change, field",
    [
        ({"date_of_birth": (date.today() + timedelta(days=2)).isoformat()}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"date_of_birth": "not a date"}, "date_of_birth"),
        ({"sex_at_birth": "robot"}, "sex_at_birth"),
        ({"height_cm": "900"}, "height_cm"),
        ({"mrn": "   "}, "mrn"),
    ],
)
def test_invalid_patient_fields_are_400(tenant_a, s3_server, s3_bucket, change, field):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post("/api/v1/patients/", {**NEW_PATIENT, **change}, format="json")
    assert_error(response, 400, field=field)


def test_unknown_and_read_only_fields_in_json_are_ignored(tenant_a, tenant_b):
    """The serializer names what a partner may write; anything else (an organization, an id, a made-up
    field) is ignored: it can neither move the patient to another tenant nor choose its id."""
    chosen_id = str(uuid.uuid4())
    response = tenant_a.api("clinician").post(
        "/api/v1/patients/",
        {
            **NEW_PATIENT,
            "id": chosen_id,
            "organization": tenant_b.organization.pk,
            "favourite_colour": "blue",
            "created_at": "2001-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != chosen_id and "favourite_colour" not in body and "organization" not in body
    assert not body["created_at"].startswith("2001")
    patient = _patients(tenant_a.organization).get(pk=body["id"])
    assert patient.organization_id == tenant_a.organization.pk
    assert not _patients(tenant_b.organization).exists()


def test_retrieve_audits_patient_viewed(tenant_a):
    patient = make_patient(tenant_a)
    api = tenant_a.api("read_only")
    before = AuditEvent.objects.filter(action="patient.viewed").count()
    response = api.get(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(patient.pk)
    events = AuditEvent.objects.filter(action="patient.viewed", target_id=str(patient.pk))
    assert events.count() == 1 and AuditEvent.objects.filter(action="patient.viewed").count() == before + 1
    event = events.get()
    assert event.organization_id == tenant_a.organization.pk
    assert event.actor_api_client_id == tenant_a.api_clients["read_only"].pk


def test_patch_updates_and_audits_field_names(tenant_a):
    patient = make_patient(tenant_a, current_smoker=False)
    response = tenant_a.api("clinician").patch(
        f"/api/v1/patients/{patient.pk}/", {"current_smoker": True, "weight_kg": "80.0"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["current_smoker"] is True and response.json()["weight_kg"] == "80.0"
    patient.refresh_from_db()
    assert patient.current_smoker is True
    event = AuditEvent.objects.get(action="patient.updated", target_id=str(patient.pk))
    assert event.details == {"fields": ["current_smoker", "weight_kg"]}


def test_patch_to_a_duplicate_mrn_is_400(tenant_a):
    make_patient(tenant_a, mrn="TAKEN")
    patient = make_patient(tenant_a)
    response = tenant_a.api("clinician").patch(f"/api/v1/patients/{patient.pk}/", {"mrn": "TAKEN"}, format="json")
    assert_error(response, 400, field="mrn")


def test_read_only_key_cannot_create_or_update(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a)
    api = tenant_a.api("read_only")
    with nothing_stored(s3_server, s3_bucket):
        assert_error(api.post("/api/v1/patients/", NEW_PATIENT, format="json"), 403, code="permission_denied")
    assert_error(
        api.patch(f"/api/v1/patients/{patient.pk}/", {"family_name": "X"}, format="json"), 403, code="permission_denied"
    )
    patient.refresh_from_db()
    assert patient.family_name == "Example"


def test_another_tenants_patient_is_404_everywhere(tenant_a, tenant_b):
    theirs = make_patient(tenant_b, family_name="Secret")
    make_assessment(tenant_b, theirs)
    api = tenant_a.api("clinician")
    missing = api.get(f"/api/v1/patients/{uuid.uuid4()}/")
    assert_error(missing, 404, code="not_found")
    for response in (
        api.get(f"/api/v1/patients/{theirs.pk}/"),
        api.patch(f"/api/v1/patients/{theirs.pk}/", {"family_name": "Hacked"}, format="json"),
        api.put(f"/api/v1/patients/{theirs.pk}/", NEW_PATIENT, format="json"),
        api.get(f"/api/v1/patients/{theirs.pk}/biomarkers/", {"name": "pce_ascvd_10y"}),
    ):
        error = assert_error(response, 404, code="not_found")
        assert error == missing.json()["error"]  # the same answer as for an id that exists nowhere
    theirs.refresh_from_db()
    assert theirs.family_name == "Secret"
    assert not AuditEvent.objects.filter(action="patient.viewed", target_id=str(theirs.pk)).exists()


def test_biomarker_history_needs_a_name_and_sane_days(tenant_a):
    patient = make_patient(tenant_a)
    api = tenant_a.api("read_only")
    assert_error(api.get(f"/api/v1/patients/{patient.pk}/biomarkers/"), 400, field="name")
    assert_error(
        api.get(f"/api/v1/patients/{patient.pk}/biomarkers/", {"name": "bmi", "days": "forever"}), 400, field="days"
    )
    body = api.get(f"/api/v1/patients/{patient.pk}/biomarkers/", {"name": "bmi", "days": 30}).json()
    assert body == {"patient": str(patient.pk), "name": "bmi", "days": 30, "values": []}


def test_history_a_partner_does_not_send_is_unknown_not_no(tenant_a):
    api = tenant_a.api("clinician")
    created = api.post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    # Sent: kept as sent. Not sent: unknown (null), which an equation that needs it will ask for.
    assert body["has_diabetes"] is False and body["current_smoker"] is True
    assert body["treated_hypertension"] is None and body["on_statin"] is None
    assert body["prior_cardiovascular_disease"] is None
    patched = api.patch(f"/api/v1/patients/{body['id']}/", {"on_statin": True}, format="json")
    assert patched.status_code == 200
    # A partial update leaves what it does not name as it was.
    assert patched.json()["has_diabetes"] is False and patched.json()["treated_hypertension"] is None
    refused = api.patch(f"/api/v1/patients/{body['id']}/", {"on_statin": "perhaps"}, format="json")
    assert_error(refused, 400, field="on_statin")
    with scopes_disabled():
        assert Patient.objects.get(pk=body["id"]).on_statin is True
