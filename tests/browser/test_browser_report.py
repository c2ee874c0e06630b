"""The PDF report in Chromium: a clinician opens a completed assessment, clicks "Download report (PDF)" and
gets a PDF named by the assessment's id that reads back with the patient's identifiers; the patient page's
summary link downloads the patient summary the same way."""

import pytest
from playwright.sync_api import expect

from assessments.tests.portal import make_assessment, make_patient
from medilens.testing.fixtures import build_tenant
from reports.tests.helpers import text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_download_report_gives_the_assessments_pdf(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    patient = make_patient(tenant, "BR-2207", given_name="Wilhelmina", family_name="Ashcombe")
    assessment = make_assessment(tenant, patient, run=True)
    sign_in(page, tenant.users["clinician"].email, password)
    page.goto(f"{live_server.url}/assessments/{assessment.pk}/")
    link = page.get_by_role("link", name="Download report (PDF)")
    expect(link).to_be_visible()

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == f"medilens-report-{assessment.pk}.pdf"
    with open(download.path(), "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    body = text(pdf)
    assert "Ashcombe, Wilhelmina" in body and "BR-2207" in body and "PRELIMINARY" in body

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Summary report (PDF)").click()
    assert download_info.value.suggested_filename == f"medilens-patient-summary-{patient.pk}.pdf"
