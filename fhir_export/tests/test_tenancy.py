"""A patient of organization B, and everything below it, is a 404 OperationOutcome for A's key on every
FHIR route, saying nothing of B; the same requests on A's own objects succeed (the control)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.tenancy import scopes_disabled
from assessments.models import BiomarkerValue, UploadedFile
from assessments.tests.helpers_api import make_patient
from fhir_export import urls as fhir_urls

from .helpers import GOFF_PANEL, PDF, run, validate

pytestmark = pytest.mark.django_db


# Each FHIR route with an id, and which of a tenant's objects its id names.
ROUTES = {
    "api:fhir-patient": "patient",
    "api:fhir-patient-everything": "patient",
    "api:fhir-observation": "observation",
    "api:fhir-risk-assessment": "assessment",
    "api:fhir-diagnostic-report": "assessment",
    "api:fhir-document-reference": "file",
}


def _objects(tenant) -> dict[str, str]:
    patient = make_patient(tenant)
    assessment = run(tenant, patient, modality="cvd_risk", inputs=dict(GOFF_PANEL), attachments=[("lab.pdf", PDF)])
    assert assessment.status == "completed", assessment.failure_reason
    with scopes_disabled():
        value = BiomarkerValue.objects.filter(assessment=assessment).first()
        uploaded = UploadedFile.objects.get(assessment=assessment)
    return {"patient": str(patient.pk), "observation": str(value.pk), "assessment": str(assessment.pk),
            "file": str(uploaded.pk)}  # fmt: skip


def test_every_fhir_route_with_an_id_is_covered():
    with_id = {f"api:{pattern.name}" for pattern in fhir_urls.urlpatterns if "<" in str(pattern.pattern)}
    assert with_id == set(ROUTES)


def test_organization_bs_objects_are_404_for_as_key_on_every_fhir_route(tenant_a, tenant_b):
    theirs, ours = _objects(tenant_b), _objects(tenant_a)
    api = tenant_a.api("clinician")
    for name, kind in ROUTES.items():
        pk = theirs[kind]
        response = api.get(reverse(name, kwargs={"pk": pk}))
        assert response.status_code == 404, (name, response.status_code)
        assert validate(response.json()).issue[0].code == "not-found"
        assert pk not in response.content.decode()
        control = api.get(reverse(name, kwargs={"pk": ours[kind]}))
        assert control.status_code == 200, (name, control.content[:300])
    # The search, by B's patient: the same 404; by A's own: a Bundle of A's values only.
    search = reverse("api:fhir-observation-search")
    refused = api.get(search, {"patient": theirs["patient"]})
    assert refused.status_code == 404 and theirs["patient"] not in refused.content.decode()
    everything = api.get(search).json()
    assert everything["total"] > 0
    assert {e["resource"]["subject"]["reference"] for e in everything["entry"]} == {f"Patient/{ours['patient']}"}
