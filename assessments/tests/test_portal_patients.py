"""Patient pages: list and search, create and edit through services, consent, the patient page's audit
and its biomarker trend chart."""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import selectors
from assessments.models import Patient

from .portal import events, make_assessment, make_patient, text

pytestmark = pytest.mark.django_db

VALID = {
    "mrn": "MRN-7781",
    "given_name": "Grace",
    "family_name": "Hopper",
    "date_of_birth": "1956-12-09",
    "sex_at_birth": "female",
    "height_cm": "168.5",
    "weight_kg": "61",
    "treated_hypertension": "on",
    "history_notes": "Mother: stroke at 70.",
}


def _patient_count(tenant) -> int:
    with organization_scope(tenant.organization):
        return Patient.objects.count()


# --- list --------------------------------------------------------------------------------------------
def test_the_list_searches_by_name_and_by_mrn(tenant_a):
    make_patient(tenant_a, "P-100", given_name="Ada", family_name="Okafor")
    make_patient(tenant_a, "P-200", given_name="Bruno", family_name="Keller")
    make_patient(tenant_a, "X-300", given_name="Chen", family_name="Wei")
    client = tenant_a.client_for(Role.TECHNICIAN)

    def names(query):
        body = client.get("/patients/", {"q": query}).content.decode()
        return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', body)

    # Names are sealed: the whole list goes by last activity, newest first (issue 12).
    assert names("") == ["Wei, Chen", "Keller, Bruno", "Okafor, Ada"]
    assert names("okafor") == ["Okafor, Ada"]
    assert names("brun") == ["Keller, Bruno"]
    assert names("P-") == []  # an MRN prefix is matched from 3 characters (issue 12)
    assert names("P-1") == ["Okafor, Ada"]
    assert names("x-300") == ["Wei, Chen"]
    assert names("Ada Okafor") == ["Okafor, Ada"]
    assert names("nobody") == []
    assert "No patient matches" in text(client.get("/patients/", {"q": "nobody"}))


def test_the_list_shows_the_last_assessment_and_paginates_by_25(tenant_a):
    first = make_patient(tenant_a, "P-000", family_name="Aaron")
    for i in range(1, 30):
        make_patient(tenant_a, f"P-{i:03d}", family_name=f"Zed{i:03d}")
    make_assessment(tenant_a, first, run=True)  # the most recent activity: Aaron leads the list
    client = tenant_a.client_for(Role.CLINICIAN)
    page_one = client.get("/patients/")
    rows = re.findall(r"<tr>\s*<th scope=\"row\">", page_one.content.decode())
    assert len(rows) == 25
    assert "Completed" in text(page_one) and "Page 1 of 2" in text(page_one)
    page_two = client.get("/patients/", {"page": 2})
    assert len(re.findall(r"<tr>\s*<th scope=\"row\">", page_two.content.decode())) == 5
    assert "None yet" in text(page_two)


def test_the_list_runs_the_same_queries_for_3_or_40_patients(tenant_a, django_assert_max_num_queries):
    for i in range(3):
        patient = make_patient(tenant_a, f"S-{i:03d}")
        make_assessment(tenant_a, patient)
    client = tenant_a.client_for(Role.CLINICIAN)
    client.get("/patients/")  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get("/patients/").status_code == 200
    for i in range(3, 40):
        patient = make_patient(tenant_a, f"S-{i:03d}")
        make_assessment(tenant_a, patient)
        make_assessment(tenant_a, patient)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/patients/")
    assert response.status_code == 200
    assert response.content.decode().count("Queued") >= 25


# --- create ------------------------------------------------------------------------------------------
def test_creating_a_patient_saves_it_with_consent_and_audits_it(tenant_a):
    client = tenant_a.client_for(Role.TECHNICIAN)
    form = client.get("/patients/new/")
    assert form.status_code == 200
    assert 'type="date"' in form.content.decode() and 'name="consent"' in form.content.decode()

    response = client.post("/patients/new/", {**VALID, "consent": "on"})
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        patient = selectors.patients(search="MRN-7781").get()
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert (patient.given_name, patient.family_name, patient.date_of_birth) == ("Grace", "Hopper", date(1956, 12, 9))
    assert patient.treated_hypertension and not patient.current_smoker
    assert float(patient.height_cm) == 168.5 and float(patient.weight_kg) == 61
    assert patient.consent_recorded_by == tenant_a.users[Role.TECHNICIAN] and patient.has_consent
    assert events(tenant_a.organization, "patient.created", patient).count() == 1


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"mrn": "TAKEN-1"}, "mrn", "A patient with MRN TAKEN-1 already exists in this organization."),
        ({"date_of_birth": (date.today() + timedelta(days=3)).isoformat()}, "date_of_birth",
         "The date of birth is in the future."),
        ({"weight_kg": "-4"}, "weight_kg", "Weight must be between 1 and 650 kg."),
        ({"height_cm": "900"}, "height_cm", "Height must be between 30 and 272 cm."),
        ({"given_name": ""}, "given_name", "This field is required."),
        ({"date_of_birth": "31/31/1990"}, "date_of_birth", "Enter a valid date."),
        ({"sex_at_birth": "other"}, "sex_at_birth", "Select a valid choice."),
    ],
)
def test_bad_patient_input_is_a_400_with_the_message_on_its_field_and_nothing_saved(tenant_a, change, field,
                                                                                     message):
    make_patient(tenant_a, "TAKEN-1")
    before = _patient_count(tenant_a), events(tenant_a.organization, "patient.created").count()
    response = tenant_a.client_for(Role.CLINICIAN).post("/patients/new/", {**VALID, **change})
    assert response.status_code == 400
    body = response.content.decode()
    errors = re.search(rf'id="id_{field}_error">(.*?)</div>', body, flags=re.S)
    assert errors and message in errors.group(1).replace("&#x27;", "'")
    assert "The patient was not saved." in text(response)
    assert (_patient_count(tenant_a), events(tenant_a.organization, "patient.created").count()) == before


def test_an_mrn_of_another_organization_does_not_clash(tenant_a, tenant_b):
    make_patient(tenant_b, "MRN-7781")
    response = tenant_a.client_for(Role.CLINICIAN).post("/patients/new/", VALID)
    assert response.status_code == 302


# --- edit and consent --------------------------------------------------------------------------------
def test_editing_a_patient_saves_through_services_and_audits_field_names_only(tenant_a):
    patient = make_patient(tenant_a, "E-1", current_smoker=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    form = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'value="E-1"' in form and 'value="1965-03-14"' in form and 'name="consent"' not in form
    data = {"mrn": "E-1", "given_name": "Ada", "family_name": "Okafor-Smith", "date_of_birth": "1965-03-14",
            "sex_at_birth": "female", "height_cm": "165.0", "weight_kg": "70.5",
            # The history selects post yes / no / unknown; a browser always sends one of them.
            "has_diabetes": "false", "treated_hypertension": "false", "current_smoker": "false",
            "on_statin": "false", "prior_cardiovascular_disease": "false"}
    response = client.post(f"/patients/{patient.pk}/edit/", data)
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        patient.refresh_from_db()
    assert patient.family_name == "Okafor-Smith" and not patient.current_smoker and float(patient.weight_kg) == 70.5
    event = events(tenant_a.organization, "patient.updated", patient).get()
    assert event.details == {"fields": ["current_smoker", "family_name", "weight_kg"]}


def test_a_refused_edit_is_a_400_and_changes_nothing(tenant_a):
    patient = make_patient(tenant_a, "E-2")
    make_patient(tenant_a, "E-3")
    client = tenant_a.client_for(Role.CLINICIAN)
    future = (date.today() + timedelta(days=1)).isoformat()
    for change, message in [({"date_of_birth": future}, "The date of birth is in the future."),
                            ({"mrn": "E-3"}, "already exists")]:
        data = {"mrn": "E-2", "given_name": "Changed", "family_name": "Okafor", "date_of_birth": "1965-03-14",
                "sex_at_birth": "female", **change}
        response = client.post(f"/patients/{patient.pk}/edit/", data)
        assert response.status_code == 400
        assert message in text(response)
        with organization_scope(tenant_a.organization):
            patient.refresh_from_db()
        assert patient.given_name == "Ada" and patient.mrn == "E-2"
    assert not events(tenant_a.organization, "patient.updated").exists()


def test_recording_consent_from_the_patient_page(tenant_a):
    patient = make_patient(tenant_a, "C-1", consent=False)
    client = tenant_a.client_for(Role.CLINICIAN)
    page = client.get(f"/patients/{patient.pk}/")
    assert "Not recorded" in text(page) and "Record consent" in text(page)
    response = client.post(f"/patients/{patient.pk}/consent/", follow=True)
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    assert "Consent recorded for this patient." in text(response)
    with organization_scope(tenant_a.organization):
        patient.refresh_from_db()
    assert patient.consent_recorded_by == tenant_a.users[Role.CLINICIAN]
    assert events(tenant_a.organization, "patient.consent_recorded", patient).count() == 1
    # Twice is harmless, and audited once.
    client.post(f"/patients/{patient.pk}/consent/")
    assert events(tenant_a.organization, "patient.consent_recorded", patient).count() == 1
    # An off-site "next" is ignored.
    response = client.post(f"/patients/{patient.pk}/consent/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/patients/{patient.pk}/"


def test_an_auditor_sees_no_edit_or_consent_buttons(tenant_a):
    patient = make_patient(tenant_a, "C-2", consent=False)
    page = text(tenant_a.client_for(Role.AUDITOR).get(f"/patients/{patient.pk}/"))
    assert "Record consent" not in page and "Edit patient" not in page and "New assessment" not in page


# --- patient page ------------------------------------------------------------------------------------
def test_opening_a_patient_is_audited(tenant_a):
    patient = make_patient(tenant_a, "V-1")
    tenant_a.client_for(Role.AUDITOR).get(f"/patients/{patient.pk}/")
    event = events(tenant_a.organization, "patient.viewed", patient).get()
    assert event.actor_user == tenant_a.users[Role.AUDITOR]
    assert event.target_type == "assessments.patient"


def test_the_patient_page_lists_assessments_and_draws_the_trend(tenant_a):
    patient = make_patient(tenant_a, "T-1")
    older = make_assessment(tenant_a, patient, inputs={"total_cholesterol": 240, "hdl_cholesterol": 40,
                                                       "systolic_bp": 150}, run=True)
    newer = make_assessment(tenant_a, patient, run=True)
    queued = make_assessment(tenant_a, patient)
    with scopes_disabled():
        # The older panel was measured months ago.
        older.biomarkers.update(measured_at=timezone.now() - timedelta(days=200))
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.get(f"/patients/{patient.pk}/")
    body, page = response.content.decode(), text(response)
    for assessment in (older, newer, queued):
        assert f"/assessments/{assessment.pk}/" in body
    assert "Score" in page and "10-year ASCVD risk (PCE)" in page and "Queued" in page

    svg = re.search(r'<svg class="trend-chart trend-chart-wide".*?</svg>', body, flags=re.S).group(0)
    assert "10-year ASCVD risk (PCE) over time" in svg
    assert svg.count("<circle") == 2
    assert 'fill="#e5f4ea"' in svg  # the low-risk band (< 5%) is shaded
    with scopes_disabled():
        stored = older.biomarkers.get(name="pce_ascvd_10y").value
    older_value = f"{stored:.1f}"  # the catalogue shows a risk percentage to one decimal
    assert f">{older_value}</text>" in svg
    # The accessible fallback table has the same values.
    table = body.split("Values as a table", 1)[1]
    assert older_value in table and table.count('<td class="num">') >= 2

    systolic = client.get(f"/patients/{patient.pk}/", {"biomarker": "systolic_bp"}).content.decode()
    assert "Systolic blood pressure over time" in systolic and ">150<" in systolic
    # An unknown biomarker is said beside the picker, and the default is drawn.
    fallback = client.get(f"/patients/{patient.pk}/", {"biomarker": "nonsense"})
    assert fallback.status_code == 400
    assert "“nonsense” has not been measured for this patient." in text(fallback)
    assert "10-year ASCVD risk (PCE) over time" in fallback.content.decode()


def test_a_patient_without_results_gets_no_chart(tenant_a):
    patient = make_patient(tenant_a, "T-2")
    make_assessment(tenant_a, patient)
    page = text(tenant_a.client_for(Role.CLINICIAN).get(f"/patients/{patient.pk}/"))
    assert "Biomarkers appear here once an assessment of this patient has completed." in page


def test_a_single_value_is_drawn_as_one_point_without_a_line(tenant_a):
    patient = make_patient(tenant_a, "T-3")
    make_assessment(tenant_a, patient, run=True)
    body = tenant_a.client_for(Role.CLINICIAN).get(f"/patients/{patient.pk}/").content.decode()
    svg = re.search(r'<svg class="trend-chart trend-chart-wide".*?</svg>', body, flags=re.S).group(0)
    assert svg.count("<circle") == 1 and "<path" not in svg
    assert "1 value from" in svg
