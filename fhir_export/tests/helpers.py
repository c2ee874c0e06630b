"""Shared by the FHIR tests: completed assessments made the way a worker makes them (the modality's own
demo inputs through the real pipeline, synchronously), and validation with fhir.resources' R4B models."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from fhir.resources.R4B import get_fhir_model_class

from accounts.tenancy import organization_scope
from assessments import pipeline, services
from assessments.models import Assessment
from modalities import registry

FHIR_JSON = "application/fhir+json"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# Goff 2014's worked example (white female, 55): PCE 10-year ASCVD risk 2.1 %; 213 mg/dL is above the
# ATP III limit of 200, HDL 50 is above 40, and a systolic 120 mmHg is already "elevated" (ACC/AHA 2017).
GOFF_PANEL = {
    "age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
}  # fmt: skip


def validate(resource: dict):
    """The resource parsed by fhir.resources' R4B model of its type: raises on anything R4B refuses."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource)


def run(tenant, patient, *, modality: str, inputs: dict, files=(), attachments=()) -> Assessment:
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor="system:test", organization=tenant.organization, patient=patient, modality=modality,
            inputs=inputs, files=[SimpleUploadedFile(name, content) for name, content in files],
            attachments=[SimpleUploadedFile(name, content) for name, content in attachments],
        )  # fmt: skip
        pipeline.run(assessment.pk)
        assessment.refresh_from_db()
    return assessment


def run_demo_case(tenant, patient, modality: str, *, attachments=()) -> Assessment:
    case = registry.demo_cases(modality)[0]
    return run(tenant, patient, modality=modality, inputs=dict(case.inputs), files=case.files, attachments=attachments)


def fhir_get(client, path: str, **params):
    response = client.get(f"/api/v1/fhir/{path}", params, HTTP_ACCEPT=FHIR_JSON)
    assert response["Content-Type"].startswith(FHIR_JSON), response["Content-Type"]
    return response
