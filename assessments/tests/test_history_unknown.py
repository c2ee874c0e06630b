"""History items can be yes, no or unknown (issue 14, item 4), and an unknown is never read as "no": the
cardiovascular-risk panel asks for the answer, and with prior cardiovascular disease unknown no equation
applies. Nothing is stored when a request is refused."""

import re

import pytest

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments.models import Assessment, Patient

from .helpers_api import GOFF_PANEL, assert_error
from .portal import form_data, make_patient, text

pytestmark = pytest.mark.django_db

API_URL = "/api/v1/assessments/"
HISTORY = ["has_diabetes", "treated_hypertension", "current_smoker", "on_statin", "prior_cardiovascular_disease"]
NEW_PATIENT = {"mrn": "H-1", "given_name": "Iris", "family_name": "Vale", "date_of_birth": "1960-04-02",
               "sex_at_birth": "female"}  # fmt: skip


def _selected(body: str, name: str) -> str:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', body, re.S)
    assert select, name
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(1))
    assert len(chosen) == 1, (name, chosen)
    return chosen[0]


def _stored(tenant, mrn) -> dict:
    with organization_scope(tenant.organization):
        patient = next(p for p in Patient.objects.all() if p.mrn == mrn)
        return {name: getattr(patient, name) for name in HISTORY}


def test_a_new_record_starts_unknown_and_stores_yes_no_and_unknown(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    form = client.get("/patients/new/").content.decode()
    assert all(_selected(form, name) == "unknown" for name in HISTORY)
    answers = {"has_diabetes": "true", "treated_hypertension": "false", "current_smoker": "unknown",
               "on_statin": "on", "prior_cardiovascular_disease": "unknown"}  # fmt: skip
    assert client.post("/patients/new/", {**NEW_PATIENT, **answers}).status_code == 302
    assert _stored(tenant_a, "H-1") == {"has_diabetes": True, "treated_hypertension": False,
                                        "current_smoker": None, "on_statin": True,
                                        "prior_cardiovascular_disease": None}  # fmt: skip


def test_the_patient_page_and_edit_form_show_unknown_as_unknown(tenant_a):
    patient = make_patient(tenant_a, "H-2", current_smoker=None, has_diabetes=False, on_statin=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    page = text(client.get(f"/patients/{patient.pk}/"))
    assert "Diabetes No" in page and "Current smoker Unknown" in page and "On a statin Yes" in page
    form = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    assert _selected(form, "current_smoker") == "unknown"
    assert _selected(form, "has_diabetes") == "false" and _selected(form, "on_statin") == "true"


def _payload(patient, **inputs):
    panel = {k: v for k, v in GOFF_PANEL.items() if k not in ("age", "smoker", "diabetic", "bp_treated", "statin")}
    return {"patient": str(patient.pk), "modality": "cvd_risk",
            "inputs": {**panel, "sex": "female", "egfr": 90, **inputs}}  # fmt: skip


def _assessments(tenant, patient) -> int:
    with organization_scope(tenant.organization):
        return Assessment.objects.filter(patient=patient).count()


def test_the_api_asks_for_a_history_answer_the_record_does_not_give(tenant_a):
    patient = make_patient(tenant_a, "H-3", current_smoker=None, has_diabetes=None)
    api = tenant_a.api("clinician")
    error = assert_error(api.post(API_URL, _payload(patient), format="json"), 400, code="invalid")
    assert set(error["fields"]) == {"inputs.smoker", "inputs.diabetic"}
    assert "Answer yes or no" in " ".join(error["fields"]["inputs.smoker"])
    assert _assessments(tenant_a, patient) == 0
    # A blank answer is no answer either, even when the record is known.
    known = make_patient(tenant_a, "H-4")
    error = assert_error(api.post(API_URL, _payload(known, statin=""), format="json"), 400, code="invalid")
    assert set(error["fields"]) == {"inputs.statin"}
    # Answered: accepted, with the answers given.
    response = api.post(API_URL, _payload(patient, smoker=False, diabetic=True), format="json")
    assert response.status_code == 201, response.content
    with organization_scope(tenant_a.organization):
        inputs = Assessment.objects.get(pk=response.json()["id"]).inputs
    assert inputs["smoker"] is False and inputs["diabetic"] is True


def test_with_prior_cardiovascular_disease_unknown_no_equation_applies(tenant_a):
    patient = make_patient(tenant_a, "H-5", prior_cardiovascular_disease=None)
    response = tenant_a.api("clinician").post(API_URL, _payload(patient), format="json")
    error = assert_error(response, 400, code="invalid", field="inputs")
    assert "the patient's record says it is unknown" in " ".join(error["fields"]["inputs"])
    assert _assessments(tenant_a, patient) == 0


def test_the_portal_form_asks_for_an_unknown_answer_and_refuses_it_blank(tenant_a):
    patient = make_patient(tenant_a, "H-6", current_smoker=None, treated_hypertension=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk"
    body = client.get(url).content.decode()
    assert _selected(body, "inputs-smoker") == "" and _selected(body, "inputs-bp_treated") == "True"
    response = client.post(url, form_data(**{"inputs-smoker": ""}))
    assert response.status_code == 400
    assert "Answer yes or no: this is unknown (the record does not say)" in text(response)
    assert _assessments(tenant_a, patient) == 0
    assert client.post(url, form_data(**{"inputs-smoker": "False"})).status_code == 302
    assert _assessments(tenant_a, patient) == 1


def test_an_edit_that_does_not_send_a_history_answer_keeps_it(tenant_a):
    patient = make_patient(tenant_a, "H-7", current_smoker=True, has_diabetes=False)
    client = tenant_a.client_for(Role.CLINICIAN)
    data = {"mrn": "H-7", "given_name": "Ada", "family_name": "Okafor", "date_of_birth": "1965-03-14",
            "sex_at_birth": "female", "on_statin": "unknown"}  # fmt: skip
    assert client.post(f"/patients/{patient.pk}/edit/", data).status_code == 302
    stored = _stored(tenant_a, "H-7")
    assert stored["current_smoker"] is True and stored["has_diabetes"] is False and stored["on_statin"] is None
