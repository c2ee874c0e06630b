"""``GET /api/v1/assessments/<id>/report.pdf``: the PDF for a key that may see results, audited with the API
client as the actor; 409 with a JSON reason before completion; 404 for another organization's; documented
in the OpenAPI schema as a PDF."""

import pytest

from accounts.models import ApiClient
from assessments.tests.portal import events, make_assessment, make_patient

from .helpers import text

pytestmark = pytest.mark.django_db


def url(assessment) -> str:
    return f"/api/v1/assessments/{assessment.pk}/report.pdf"


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a, "API-3310", given_name="Octavia", family_name="Pemberton")


def test_a_key_gets_the_pdf_and_the_read_is_audited_as_that_client(tenant_a, patient):
    assessment = make_assessment(tenant_a, patient, run=True)
    response = tenant_a.api(ApiClient.Access.READ_ONLY).get(url(assessment), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="medilens-report-{assessment.pk}.pdf"'
    body = text(response.content)
    assert "Pemberton, Octavia" in body and "API-3310" in body and tenant_a.organization.name in body
    [event] = events(tenant_a.organization, "report.generated")
    assert event.actor_api_client_id == tenant_a.api_clients[ApiClient.Access.READ_ONLY].pk
    assert event.target_id == str(assessment.pk) and event.details["patients"] == [str(patient.pk)]


def test_an_assessment_that_has_not_completed_is_a_409_with_its_reason(tenant_a, patient):
    queued = make_assessment(tenant_a, patient)
    response = tenant_a.api().get(url(queued), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {
        "status": 409, "code": "not_completed",
        "message": "A report is available once the assessment has completed; this one is queued.",
    }}
    assert not events(tenant_a.organization, "report.generated").exists()


def test_another_organizations_assessment_is_a_404(tenant_a, tenant_b, patient):
    assessment = make_assessment(tenant_a, patient, run=True)
    response = tenant_b.api().get(url(assessment))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not events(tenant_a.organization, "report.generated").exists()
    assert not events(tenant_b.organization, "report.generated").exists()


def test_the_schema_documents_the_report_as_a_pdf(client):
    document = client.get("/api/v1/schema/", {"format": "json"}).json()
    operation = document["paths"]["/api/v1/assessments/{id}/report.pdf"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/pdf"}
    assert {"404", "409"} <= set(operation["responses"])
