"""Patient/<id>/$everything: one searchset Bundle of the patient, and for each completed assessment its
DiagnosticReport, RiskAssessment, Observations and DocumentReferences; every resource and the Bundle
validate with fhir.resources' R4B models, and every reference inside resolves within the Bundle."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command

from accounts.tenancy import scopes_disabled
from assessments.models import BiomarkerValue, UploadedFile
from assessments.tests.helpers_api import make_patient
from audit.models import AuditEvent
from modalities import registry

from .helpers import PDF, fhir_get, run_demo_case, validate

pytestmark = pytest.mark.django_db

MODALITIES = [name for name in registry.names() if not name.startswith("test_")]


@pytest.fixture
def reference_model(db):
    call_command("register_reference_models", "--activate-outside-demo", stdout=io.StringIO())


def _references(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def test_everything_for_a_patient_with_every_modality_validates(tenant_a, reference_model):
    assert len(MODALITIES) >= 6, MODALITIES
    patient = make_patient(tenant_a, sex_at_birth="male", date_of_birth=date(1968, 6, 1))
    referral = [("referral.pdf", PDF)]
    assessments = [
        run_demo_case(tenant_a, patient, modality, attachments=referral if modality == "cvd_risk" else ())
        for modality in MODALITIES
    ]
    assert all(a.status == "completed" for a in assessments), [(a.modality, a.failure_reason) for a in assessments]
    other = make_patient(tenant_a)  # another patient of the same organization: none of theirs appears
    run_demo_case(tenant_a, other, "cvd_risk")

    response = fhir_get(tenant_a.api("clinician"), f"Patient/{patient.pk}/$everything")
    assert response.status_code == 200
    body = response.json()
    bundle = validate(body)
    assert bundle.type == "searchset" and bundle.total == len(bundle.entry)
    for entry in body["entry"]:
        validate(entry["resource"])  # each on its own too: a Bundle validates its entries loosely
        assert entry["fullUrl"].endswith(f"/api/v1/fhir/{entry['resource']['resourceType']}/{entry['resource']['id']}")

    by_type: dict[str, list[dict]] = {}
    for entry in body["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    assert [r["id"] for r in by_type["Patient"]] == [str(patient.pk)]
    assert {r["id"] for r in by_type["DiagnosticReport"]} == {str(a.pk) for a in assessments}
    assert {r["code"]["coding"][0]["code"] for r in by_type["DiagnosticReport"]} == set(MODALITIES)
    with scopes_disabled():
        values = set(BiomarkerValue.objects.filter(patient=patient).values_list("pk", flat=True))
        files = set(UploadedFile.objects.filter(assessment__patient=patient).values_list("pk", flat=True))
    assert {int(r["id"]) for r in by_type["Observation"]} == values
    assert {int(r["id"]) for r in by_type["DocumentReference"]} == files
    scored = {str(a.pk) for a in assessments if a.risk_score is not None}
    assert {r["id"] for r in by_type["RiskAssessment"]} == scored and scored
    # A reference model's output says it is not for clinical use, in FHIR too.
    radiology = next(a for a in assessments if a.modality == "radiology")
    risk = next(r for r in by_type["RiskAssessment"] if r["id"] == str(radiology.pk))
    assert any("not for clinical use" in note["text"] for note in risk["note"])
    assert risk["prediction"][0]["probabilityDecimal"] == pytest.approx(radiology.risk_score / 100)

    served = {f"{entry['resource']['resourceType']}/{entry['resource']['id']}" for entry in body["entry"]}
    dangling = {ref for ref in _references(body["entry"]) if ref not in served}
    assert not dangling, dangling

    with scopes_disabled():
        event = AuditEvent.objects.filter(action="patient.viewed", target_id=str(patient.pk)).latest("id")
    assert event.details["via"] == "fhir" and set(event.details["assessments"]) == {str(a.pk) for a in assessments}
    assert event.details["patients"] == [str(patient.pk)]


def test_everything_for_a_patient_without_results_is_the_patient_alone(tenant_a):
    patient = make_patient(tenant_a)
    body = fhir_get(tenant_a.api("read_only"), f"Patient/{patient.pk}/$everything").json()
    validate(body)
    assert [entry["resource"]["resourceType"] for entry in body["entry"]] == ["Patient"]


def test_everything_refuses_parameters_it_does_not_support(tenant_a):
    patient = make_patient(tenant_a)
    for params in ({"_since": "2026-01-01"}, {"start": "2026-01-01"}, {"_type": "Observation"}, {"x": "1"}):
        with scopes_disabled():
            before = AuditEvent.objects.count()
        response = fhir_get(tenant_a.api("read_only"), f"Patient/{patient.pk}/$everything", **params)
        assert response.status_code == 400, params
        outcome = validate(response.json())
        assert outcome.issue[0].expression == list(params) and outcome.issue[0].code == "invalid"
        with scopes_disabled():
            assert AuditEvent.objects.count() == before
    assert fhir_get(tenant_a.api("read_only"), f"Patient/{patient.pk}/$everything", _format="json").status_code == 200
