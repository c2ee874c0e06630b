"""The PDF report of one completed assessment, read back as text: the clinic and the patient's identifiers
on every page, the headline score with its label and unit, flagged biomarkers first, PRELIMINARY until
sign-off, page numbers; audited as a read; refused (clearly) before completion; another tenant's is a 404."""

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services
from assessments.models import AIExplanation, Assessment
from assessments.tests.portal import events, make_assessment, make_failed_assessment, make_patient, png_bytes
from medilens import storage
from modalities.models import ModelVersion

from .helpers import image_count, pages, text

pytestmark = pytest.mark.django_db

# A panel high enough to flag (total cholesterol above 200 mg/dL, systolic BP above 120 mmHg).
PANEL = {"total_cholesterol": 262, "hdl_cholesterol": 61, "systolic_bp": 151}


def report_url(assessment) -> str:
    return reverse("reports:assessment_report", args=[assessment.pk])


def download(client, assessment):
    response = client.get(report_url(assessment))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    return response


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a, "MRN-4471", given_name="Ximena", family_name="Quarrington")


@pytest.fixture
def completed(tenant_a, patient):
    return make_assessment(tenant_a, patient, inputs=PANEL, run=True)


def sign(tenant, assessment, note="Reviewed with the patient; repeat lipids in 3 months."):
    with organization_scope(tenant.organization):
        services.sign_off(actor=tenant.users[Role.CLINICIAN], assessment=assessment, note=note)
        assessment.refresh_from_db()
    return assessment


def test_the_report_names_the_clinic_the_patient_and_the_score_with_its_label_and_unit(tenant_a, completed):
    assert completed.status == Assessment.Status.COMPLETED
    response = download(tenant_a.client_for(Role.CLINICIAN), completed)
    body = text(response.content)
    assert tenant_a.organization.name in body
    assert "Quarrington, Ximena" in body and "MRN-4471" in body
    assert "Date of birth: 14 Mar 1965" in body
    score = completed.results["score"]
    value = f"{completed.risk_score:.{score['decimals']}f}"
    assert re.search(rf"{re.escape(score['label'])} {re.escape(value)} ?{re.escape(score['unit'])}", body), body
    assert f"{completed.risk_level.capitalize()} risk" in body
    assert re.search(r"Generated \d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC", body)


def test_flagged_biomarkers_come_before_the_others(tenant_a, completed):
    body = text(download(tenant_a.client_for(Role.CLINICIAN), completed).content)
    flagged = body.index("Flagged biomarkers")
    others = body.index("Other biomarkers")
    assert flagged < body.index("Total cholesterol 262") < others
    assert flagged < body.index("Systolic blood pressure 151") < others
    assert others < body.index("HDL cholesterol 61")


def test_the_download_name_carries_the_assessment_id_and_no_patient_data(tenant_a, completed):
    response = download(tenant_a.client_for(Role.CLINICIAN), completed)
    assert response["Content-Disposition"] == f'attachment; filename="medilens-report-{completed.pk}.pdf"'
    assert response["Cache-Control"] == "no-store"


def test_an_unsigned_report_is_preliminary_on_every_page_and_a_signed_one_is_not(tenant_a, completed):
    client = tenant_a.client_for(Role.CLINICIAN)
    # A long sign-off note makes the signed report run to several pages.
    unsigned = pages(download(client, completed).content)
    assert all("PRELIMINARY" in page for page in unsigned), unsigned

    note = "\n".join(f"Line {n} of the review note." for n in range(1, 90))
    sign(tenant_a, completed, note=note)
    signed = pages(download(client, completed).content)
    assert len(signed) >= 2
    assert not any("PRELIMINARY" in page for page in signed)
    reviewer = tenant_a.users[Role.CLINICIAN]
    body = " ".join(signed)
    assert f"Signed off by {reviewer.get_full_name()} on " in body
    assert "Line 89 of the review note." in body


def test_every_page_has_the_header_and_its_number(tenant_a, completed):
    sign(tenant_a, completed, note="\n".join(f"Point {n}." for n in range(1, 90)))
    found = pages(download(tenant_a.client_for(Role.CLINICIAN), completed).content)
    assert len(found) >= 2
    for number, page in enumerate(found, start=1):
        assert f"Page {number} of {len(found)}" in page
        assert tenant_a.organization.name in page
        assert "Quarrington, Ximena" in page and "MRN-4471" in page and "14 Mar 1965" in page


def test_generating_a_report_is_audited_as_a_read_of_that_patient(tenant_a, completed, patient):
    download(tenant_a.client_for(Role.AUDITOR), completed)
    [event] = events(tenant_a.organization, "report.generated")
    assert event.target_id == str(completed.pk)
    assert event.actor_user_id == tenant_a.users[Role.AUDITOR].pk
    assert event.details["patients"] == [str(patient.pk)]
    assert event.details["report"] == "assessment"
    stored = event.canonical().decode()
    assert "Quarrington" not in stored and "MRN-4471" not in stored


def test_the_explanation_image_comes_from_storage(tenant_a, completed):
    client = tenant_a.client_for(Role.CLINICIAN)
    assert image_count(download(client, completed).content) == 0
    key = storage.object_key(tenant_a.organization.pk, completed.pk, "png")
    storage.store(key, ContentFile(png_bytes((60, 40))))
    with scopes_disabled():
        AIExplanation.objects.filter(assessment=completed).update(image_key=key)
    assert image_count(download(client, completed).content) == 1


def test_a_reference_models_result_carries_the_not_for_clinical_use_warning(tenant_a, completed):
    client = tenant_a.client_for(Role.CLINICIAN)
    assert "not for clinical use" not in text(download(client, completed).content).lower()
    with scopes_disabled():
        model = ModelVersion.objects.create(
            modality="cvd_risk", name="ref_net", version="1.0.0", architecture="ref_net",
            intended_use="pipeline check", limitations="generated data only", is_reference=True,
        )
        Assessment.objects.filter(pk=completed.pk).update(model_version=model)
    body = text(download(client, completed).content)
    assert "Reference model, not for clinical use" in body and "ref_net 1.0.0" in body


@pytest.mark.parametrize("state", ["queued", "failed"])
def test_an_assessment_that_has_not_completed_gets_a_message_not_a_file(tenant_a, patient, state):
    assessment = (
        make_assessment(tenant_a, patient) if state == "queued" else make_failed_assessment(tenant_a, patient)
    )
    assert assessment.status == state
    response = tenant_a.client_for(Role.CLINICIAN).get(report_url(assessment))
    assert response.status_code == 302
    assert response["Location"] == reverse("assessments:assessment_detail", args=[assessment.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"A report is available once the assessment has completed; this one is {state}."
    ]
    assert not events(tenant_a.organization, "report.generated").exists()


def test_another_organizations_report_is_a_404_and_not_audited(tenant_a, tenant_b, completed):
    response = tenant_b.client_for(Role.CLINICIAN).get(report_url(completed))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert not events(tenant_a.organization, "report.generated").exists()
    assert not events(tenant_b.organization, "report.generated").exists()


def test_a_role_that_may_not_see_results_gets_no_report(tenant_a, completed):
    response = tenant_a.client_for(Role.TECHNICIAN).get(report_url(completed))
    assert response.status_code == 403
    assert not events(tenant_a.organization, "report.generated").exists()


def test_the_assessment_page_links_to_the_report_once_completed(tenant_a, patient, completed):
    client = tenant_a.client_for(Role.CLINICIAN)
    link = f'href="{report_url(completed)}"'
    page = client.get(reverse("assessments:assessment_detail", args=[completed.pk])).content.decode()
    assert link in page and "Download report (PDF)" in page
    queued = make_assessment(tenant_a, patient)
    page = client.get(reverse("assessments:assessment_detail", args=[queued.pk])).content.decode()
    assert "Download report (PDF)" not in page
    technician = tenant_a.client_for(Role.TECHNICIAN)
    page = technician.get(reverse("assessments:assessment_detail", args=[completed.pk])).content.decode()
    assert "Download report (PDF)" not in page
