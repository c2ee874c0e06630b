"""Every read of patient data leaves one audit event per request, bulk reads included: the API's patient,
assessment and attachment lists, the portal's patient list, the patient forms, the dashboard, and a signed
file link when it is fetched. Events name ids, never what was typed into a search box."""

import pytest
from django.test import Client, override_settings

from accounts.roles import Role
from accounts.tenancy import organization_scope
from audit.models import AuditEvent

from .portal import events, make_assessment, make_patient, pdf_bytes, upload


def only(organization, action: str) -> AuditEvent:
    found = list(events(organization, action))
    assert len(found) == 1, [(e.action, e.details) for e in found]
    return found[0]


def phi_free(event: AuditEvent, *values: str) -> bool:
    stored = event.canonical().decode().lower()
    return not any(value.lower() in stored for value in values)


@pytest.fixture
def three_patients(tenant_a):
    # Names with letters that are not hex digits: a check that a name is absent from an event must not be
    # fooled by a UUID that happens to spell it.
    return [make_patient(tenant_a, f"L-{n}", given_name="Quentin", family_name=f"Family{n}") for n in range(3)]


# --- the API ---------------------------------------------------------------------------------------------
def test_the_api_patient_list_records_the_ids_it_returned(tenant_a, tenant_b, three_patients):
    make_patient(tenant_b, "B-1")
    client = tenant_a.api("read_only")
    response = client.get("/api/v1/patients/", {"page_size": 2})
    assert response.status_code == 200
    returned = [row["id"] for row in response.json()["results"]]
    event = only(tenant_a.organization, "patient.listed")
    assert event.actor_api_client_id == tenant_a.api_clients["read_only"].pk
    assert event.details == {"query": {}, "count": 2, "ids": returned, "patients": returned}

    client.get(response.json()["next"])
    second = list(events(tenant_a.organization, "patient.listed").order_by("id"))[-1]
    assert second.details["query"] == {"cursor": True} and second.details["count"] == 1
    assert not events(tenant_b.organization, "patient.listed").exists()


def test_an_api_search_records_how_many_terms_not_the_words(tenant_a, three_patients):
    response = tenant_a.api("read_only").get("/api/v1/patients/", {"q": "Family1 Quentin"})
    assert [row["mrn"] for row in response.json()["results"]] == ["L-1"]
    event = only(tenant_a.organization, "patient.listed")
    assert event.details["query"] == {"search_terms": 2}
    assert event.details["ids"] == [str(three_patients[1].pk)]
    assert phi_free(event, "Family1", "Quentin")


def test_an_empty_list_is_recorded_too(tenant_a):
    tenant_a.api("read_only").get("/api/v1/patients/", {"q": "nobody"})
    assert only(tenant_a.organization, "patient.listed").details["count"] == 0


def test_the_api_assessment_list_records_assessments_patients_and_filters(tenant_a, three_patients):
    first, second = three_patients[:2]
    made = [make_assessment(tenant_a, first), make_assessment(tenant_a, second), make_assessment(tenant_a, second)]
    response = tenant_a.api("read_only").get("/api/v1/assessments/", {"patient": str(second.pk), "status": "queued"})
    assert response.status_code == 200
    event = only(tenant_a.organization, "assessment.listed")
    assert sorted(event.details["ids"]) == sorted(str(a.pk) for a in made[1:])
    assert event.details["patients"] == [str(second.pk)]
    assert event.details["query"] == {"patient": str(second.pk), "status": "queued"}


def test_the_api_attachment_list_records_the_files(tenant_a, three_patients):
    assessment = make_assessment(tenant_a, three_patients[0], attachments=[upload("a.pdf", pdf_bytes())])
    response = tenant_a.api("read_only").get(f"/api/v1/assessments/{assessment.pk}/attachments/")
    assert response.status_code == 200
    event = only(tenant_a.organization, "file.listed")
    assert (event.target_type, event.target_id) == ("assessments.assessment", str(assessment.pk))
    assert event.details["ids"] == [str(row["id"]) for row in response.json()]
    assert event.details["patients"] == [str(three_patients[0].pk)]


def test_a_refused_list_records_no_read(tenant_a, tenant_b, three_patients):
    assessment = make_assessment(tenant_a, three_patients[0])
    assert tenant_b.api("clinician").get(f"/api/v1/assessments/{assessment.pk}/attachments/").status_code == 404
    assert tenant_a.api("read_only").get("/api/v1/assessments/", {"status": "nonsense"}).status_code == 400
    assert not AuditEvent.objects.filter(action__in=["file.listed", "assessment.listed"]).exists()


@override_settings(AUDIT_READ_IDS_MAX=2)
def test_past_the_id_limit_the_query_and_count_are_recorded(tenant_a, three_patients):
    tenant_a.api("read_only").get("/api/v1/patients/", {"q": "Quentin"})
    event = only(tenant_a.organization, "patient.listed")
    assert event.details == {"query": {"search_terms": 1}, "count": 3, "ids_omitted": True, "patient_count": 3}


# --- the portal --------------------------------------------------------------------------------------------
def test_the_patient_list_page_records_the_patients_it_showed(tenant_a, three_patients):
    response = tenant_a.client_for(Role.AUDITOR).get("/patients/", {"q": "Family"})
    assert response.status_code == 200
    shown = [str(patient.pk) for patient in response.context["patients"]]
    assert len(shown) == 3
    event = only(tenant_a.organization, "patient.listed")
    assert event.actor_user_id == tenant_a.users[Role.AUDITOR].pk
    assert event.details == {"query": {"search_terms": 1, "page": 1}, "count": 3, "ids": shown, "patients": shown}
    assert phi_free(event, "Family")


@pytest.mark.parametrize(("path", "page"), [("edit/", "edit"), ("assessments/new/", "new_assessment")])
def test_the_patient_forms_are_audited_reads(tenant_a, three_patients, path, page):
    patient = three_patients[0]
    response = tenant_a.client_for(Role.CLINICIAN).get(f"/patients/{patient.pk}/{path}")
    assert response.status_code == 200
    event = only(tenant_a.organization, "patient.viewed")
    assert (event.target_id, event.details) == (str(patient.pk), {"page": page, "patients": [str(patient.pk)]})


def test_the_dashboard_records_the_assessments_it_showed(tenant_a, three_patients):
    client = tenant_a.client_for(Role.CLINICIAN)
    assert client.get("/").status_code == 200
    assert not events(tenant_a.organization, "dashboard.viewed").exists()  # no assessment shown, nothing read
    made = [make_assessment(tenant_a, patient) for patient in three_patients]
    response = client.get("/")
    assert response.status_code == 200
    event = only(tenant_a.organization, "dashboard.viewed")
    assert sorted(event.details["ids"]) == sorted(str(a.pk) for a in made)
    assert sorted(event.details["patients"]) == sorted(str(p.pk) for p in three_patients)


def test_opening_a_patient_names_the_patient_read(tenant_a, three_patients):
    patient = three_patients[0]
    tenant_a.client_for(Role.AUDITOR).get(f"/patients/{patient.pk}/")
    assert only(tenant_a.organization, "patient.viewed").details == {"patients": [str(patient.pk)]}


# --- a signed link, fetched ----------------------------------------------------------------------------------
@pytest.fixture
def local_disk(tmp_path):
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield tmp_path


def test_a_signed_link_is_audited_when_fetched_not_only_when_issued(tenant_a, three_patients, local_disk):
    lab = upload("lab.pdf", pdf_bytes(), "application/pdf")
    assessment = make_assessment(tenant_a, three_patients[0], attachments=[lab])
    with organization_scope(tenant_a.organization):
        uploaded = assessment.files.get()
    clinician = tenant_a.client_for(Role.CLINICIAN)
    url = clinician.get(f"/files/{uploaded.pk}/download/")["Location"]
    assert not events(tenant_a.organization, "file.downloaded").exists()

    fetched = clinician.get(url)  # a member's link opens in that member's session
    assert fetched.status_code == 200
    event = only(tenant_a.organization, "file.downloaded")
    assert (event.actor_user, event.target_type, event.target_id) == (
        tenant_a.users[Role.CLINICIAN], "assessments.uploadedfile", str(uploaded.pk)
    )
    assert event.details == {"via": "signed_link", "assessment_id": str(assessment.pk), "file": "input",
                             "patients": [str(three_patients[0].pk)]}

    # Refused links are not reads: another member's session, no session, a made-up token.
    assert tenant_a.client_for(Role.AUDITOR).get(url).status_code == 404
    assert Client().get(url).status_code == 404
    assert Client().get(url[:-3] + "xx/").status_code == 404
    assert events(tenant_a.organization, "file.downloaded").count() == 1


# --- the benchmark's baseline switch --------------------------------------------------------------------------
@override_settings(AUDIT_READS_ENABLED=False)
def test_read_auditing_off_records_no_reads_and_still_every_write(tenant_a):
    client = tenant_a.api("clinician")
    response = client.post("/api/v1/patients/", {"mrn": "W-1", "given_name": "Ada", "family_name": "Okafor",
                                                  "date_of_birth": "1965-03-14", "sex_at_birth": "female"},
                           format="json")
    assert response.status_code == 201, response.json()
    client.get("/api/v1/patients/")
    client.get(f"/api/v1/patients/{response.json()['id']}/")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["patient.created"]
