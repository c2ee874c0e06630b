"""The patient summary PDF: the latest completed result of each modality with its score's label and unit,
the trend of that score, the identifiers on every page; audited; another tenant's patient is a 404."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services
from assessments.tests.portal import events, make_assessment, make_patient

from .helpers import pages, text

pytestmark = pytest.mark.django_db

LOWER = {"total_cholesterol": 180, "hdl_cholesterol": 64, "systolic_bp": 118}
HIGHER = {"total_cholesterol": 262, "hdl_cholesterol": 38, "systolic_bp": 158}


def summary_url(patient) -> str:
    return reverse("reports:patient_summary", args=[patient.pk])


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a, "SUM-0907", given_name="Yolanda", family_name="Brightwater")


def test_the_summary_shows_the_latest_result_of_each_modality_and_the_trend(tenant_a, patient):
    first = make_assessment(tenant_a, patient, inputs=LOWER, run=True)
    latest = make_assessment(tenant_a, patient, inputs=HIGHER, run=True)
    slept = make_assessment(tenant_a, patient, modality="test_sleep", inputs={"seconds": 0}, run=True)
    make_assessment(tenant_a, patient, inputs=LOWER)  # queued: not a result yet
    assert first.risk_score < latest.risk_score

    response = tenant_a.client_for(Role.CLINICIAN).get(summary_url(patient))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="medilens-patient-summary-{patient.pk}.pdf"'
    found = pages(response.content)
    body = " ".join(found)
    score = latest.results["score"]
    # The latest cvd_risk result is the one shown in full (its own id), with its score's label and unit.
    assert str(latest.pk) in body and str(first.pk) not in body
    latest_value = f"{latest.risk_score:.{score['decimals']}f}"
    first_value = f"{first.risk_score:.{score['decimals']}f}"
    assert f"{score['label']} {latest_value}" in body
    # The trend lists both, oldest first, each with its unit.
    trend = body[body.index(f"Trend of the {score['label']}"):]
    assert trend.index(f"{first_value} {score['unit']}") < trend.index(f"{latest_value} {score['unit']}")
    # The other modality has its own section.
    assert str(slept.pk) in body and "Test points (MediLens test rule)" in body
    for number, page in enumerate(found, start=1):
        assert f"Page {number} of {len(found)}" in page
        assert "Brightwater, Yolanda" in page and "SUM-0907" in page and tenant_a.organization.name in page


def test_the_summary_is_preliminary_until_every_latest_result_is_signed_off(tenant_a, patient):
    cvd = make_assessment(tenant_a, patient, inputs=LOWER, run=True)
    slept = make_assessment(tenant_a, patient, modality="test_sleep", inputs={"seconds": 0}, run=True)
    client = tenant_a.client_for(Role.CLINICIAN)
    with organization_scope(tenant_a.organization):
        services.sign_off(actor=tenant_a.users[Role.CLINICIAN], assessment=cvd, note="Seen.")
    assert "PRELIMINARY" in text(client.get(summary_url(patient)).content)
    with organization_scope(tenant_a.organization):
        services.sign_off(actor=tenant_a.users[Role.CLINICIAN], assessment=slept, note="Seen.")
    assert "PRELIMINARY" not in text(client.get(summary_url(patient)).content)


def test_a_patient_with_no_result_gets_a_summary_that_says_so(tenant_a, patient):
    make_assessment(tenant_a, patient, inputs=LOWER)  # queued only
    body = text(tenant_a.client_for(Role.AUDITOR).get(summary_url(patient)).content)
    assert "no completed assessment yet" in body and "Brightwater, Yolanda" in body


def test_the_summary_is_audited_with_the_results_it_showed(tenant_a, patient):
    shown = make_assessment(tenant_a, patient, inputs=LOWER, run=True)
    tenant_a.client_for(Role.CLINICIAN).get(summary_url(patient))
    [event] = events(tenant_a.organization, "report.generated")
    assert event.target_id == str(patient.pk)
    assert event.details["report"] == "patient_summary"
    assert event.details["patients"] == [str(patient.pk)]
    assert event.details["assessments"] == [str(shown.pk)]
    assert "Brightwater" not in event.canonical().decode()


def test_another_organizations_patient_is_a_404(tenant_a, tenant_b, patient):
    make_assessment(tenant_a, patient, inputs=LOWER, run=True)
    response = tenant_b.client_for(Role.CLINICIAN).get(summary_url(patient))
    assert response.status_code == 404
    assert "Brightwater" not in response.content.decode(errors="replace")
    assert not events(tenant_a.organization, "report.generated").exists()
    assert not events(tenant_b.organization, "report.generated").exists()


def test_the_patient_page_links_to_the_summary_for_roles_that_see_results(tenant_a, patient):
    link = f'href="{summary_url(patient)}"'
    page = tenant_a.client_for(Role.CLINICIAN).get(reverse("assessments:patient_detail", args=[patient.pk]))
    assert link in page.content.decode()
    page = tenant_a.client_for(Role.TECHNICIAN).get(reverse("assessments:patient_detail", args=[patient.pk]))
    assert link not in page.content.decode()
