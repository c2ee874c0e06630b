"""A cardiovascular-risk request that can never succeed is refused when it is made, naming the reason, in the
API and the portal, by the same ``rule.assess`` the worker runs; nothing is stored. A request that can
succeed is accepted and its headline says which equation it is."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import pipeline
from assessments.models import Assessment

from .helpers_api import GOFF_PANEL, assert_error, make_patient, nothing_stored
from .portal import form_data, text

pytestmark = pytest.mark.django_db

URL = "/api/v1/assessments/"


def born_years_ago(years: int) -> date:
    return timezone.localdate() - timedelta(days=int(years * 365.25) + 30)


def payload(patient, **inputs) -> dict:
    panel = {k: v for k, v in GOFF_PANEL.items() if k != "age"}
    return {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": {**panel, "sex": "male", **inputs}}


def test_a_33_year_old_without_egfr_is_refused_naming_the_missing_egfr(tenant_a, s3_server, s3_bucket):
    """The PCE start at 40; PREVENT covers 30-39 but needs an eGFR. Before, this was a 201 that failed later."""
    patient = make_patient(tenant_a, date_of_birth=born_years_ago(33), sex_at_birth="male")
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, payload(patient), format="json")
    error = assert_error(response, 400, code="invalid", field="inputs.egfr")
    message = " ".join(error["fields"]["inputs.egfr"])
    assert "Pooled Cohort Equations are validated for ages 40-79; patient is 33." in message
    assert "PREVENT equations need eGFR (or serum creatinine to estimate it)" in message


def test_the_same_patient_with_a_creatinine_is_accepted_and_reads_as_prevent(tenant_a):
    patient = make_patient(tenant_a, date_of_birth=born_years_ago(33), sex_at_birth="male")
    response = tenant_a.api("clinician").post(URL, payload(patient, creatinine=0.9, smoker=True), format="json")
    assert response.status_code == 201, response.content
    with organization_scope(tenant_a.organization):
        pipeline.run(response.json()["id"])
    body = tenant_a.api("clinician").get(f"{URL}{response.json()['id']}/").json()
    assert body["status"] == "completed"
    assert body["risk_score_label"] == "10-year ASCVD risk (PREVENT)" and body["risk_score_unit"] == "%"
    assert "Pooled Cohort Equations" in {item["label"] for item in body["results"]["not_applicable"]}


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"prior_cardiovascular_disease": True}, "established cardiovascular disease"),
        ({"date_of_birth": born_years_ago(85)}, "validated for ages 30-79; patient is 85"),
        ({"date_of_birth": born_years_ago(25)}, "validated for ages 40-79; patient is 25"),
    ],
)
def test_a_patient_no_equation_can_assess_is_refused_with_the_reason(tenant_a, s3_server, s3_bucket, record,
                                                                     fragment):
    patient = make_patient(tenant_a, sex_at_birth="male", **record)
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, payload(patient, egfr=90), format="json")
    error = assert_error(response, 400, code="invalid", field="inputs")
    assert fragment in " ".join(error["fields"]["inputs"])


def test_the_portal_refuses_it_on_the_form_and_stores_nothing(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, date_of_birth=born_years_ago(33), sex_at_birth="male")
    data = form_data(**{"inputs-age": "33", "inputs-sex": "male", "inputs-egfr": ""})
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(
            f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk", data
        )
    assert response.status_code == 400
    page = text(response)
    assert "The assessment was not created." in page
    assert "Needed for this patient: No risk equation applies to this patient." in page
    with organization_scope(tenant_a.organization):
        assert not Assessment.objects.filter(patient=patient).exists()
