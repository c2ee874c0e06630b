"""Audit events are kept after a purge, so they must hold no PHI: a patient's whole life (created through the
API with idempotent retries, edited, assessed, discussed, signed off, held, released, purged) leaves events
whose details carry none of the patient's names, MRN, date of birth or notes; and the stored API responses
(which do hold them) go with the patient."""

import json

from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services as assessment_services
from assessments.models import Assessment, IdempotencyRecord, Patient
from audit.models import AuditEvent
from retention import services

from .helpers import PHI, age

CVD = {
    "age": 60, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False, "diabetic": False, "smoker": False,
    "statin": False,  # the record created through the API does not say (unknown): the inputs answer it
}


def _phi_values() -> list[str]:
    values = [PHI["given_name"], PHI["family_name"], PHI["mrn"], PHI["history_notes"]]
    born = PHI["date_of_birth"]
    return values + [born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y")]


def test_a_whole_patient_life_leaves_no_phi_in_audit_details(tenant_a, django_capture_on_commit_callbacks):
    api = tenant_a.api("clinician")
    body = {
        **PHI, "date_of_birth": PHI["date_of_birth"].isoformat(), "sex_at_birth": "female",
        "prior_cardiovascular_disease": False,  # not sent, it would be unknown and the equation would refuse
    }
    created = api.post("/api/v1/patients/", body, format="json", HTTP_IDEMPOTENCY_KEY="life-1")
    assert created.status_code == 201, created.content
    patient_id = created.json()["id"]
    other = api.post(reverse("api:patient-list"), {**body, "mrn": "OTHER-1"}, format="json")
    assert other.status_code == 201
    admin = tenant_a.users[Role.ORG_ADMIN]
    with organization_scope(tenant_a.organization):
        patient = Patient.objects.get(pk=patient_id)
        assessment_services.record_consent(actor=admin, patient=patient)
    submitted = api.post(
        "/api/v1/assessments/", {"patient": patient_id, "modality": "cvd_risk", "inputs": CVD}, format="json",
        HTTP_IDEMPOTENCY_KEY="life-2",
    )
    assert submitted.status_code in (201, 202), submitted.content
    with organization_scope(tenant_a.organization):
        patient = Patient.objects.get(pk=patient_id)
        assessment_services.update_patient(actor=admin, patient=patient, family_name=PHI["family_name"] + "-Smith")
        assessment = Assessment.objects.get(patient=patient)
        assessment = assessment_services.transition(assessment.pk, Assessment.Status.RUNNING, actor=admin)
        assessment = assessment_services.transition(assessment.pk, Assessment.Status.COMPLETED, actor=admin)
        assessment_services.post_discussion_message(
            actor=admin, assessment=assessment, body=f"Spoke to {PHI['given_name']}."
        )
        assessment_services.sign_off(actor=admin, assessment=assessment, note=f"{PHI['family_name']} reviewed.")
        services.set_legal_hold(actor=admin, organization=tenant_a.organization, patient=patient, hold=True)
        services.set_legal_hold(actor=admin, organization=tenant_a.organization, patient=patient, hold=False)
    with scopes_disabled():
        assert IdempotencyRecord.objects.count() == 2  # the control: the records name the patient
        assert any(str(patient_id) in r.resource_ids for r in IdempotencyRecord.objects.all())
    age(patient, days=3000)

    with django_capture_on_commit_callbacks(execute=True), organization_scope(tenant_a.organization):
        assert services.purge_expired(organization=tenant_a.organization) == [patient_id]

    with scopes_disabled():
        assert IdempotencyRecord.objects.count() == 0, "replayable API responses of a purged patient must go"
        assert Patient.objects.filter(pk=other.json()["id"]).exists()  # only that patient was purged
    events = list(AuditEvent.objects.filter(organization=tenant_a.organization))
    assert {"patient.created", "patient.updated", "assessment.signed_off", "patient.purged"} <= {
        e.action for e in events
    }
    dumped = json.dumps([event.details for event in events])
    for value in _phi_values():
        assert value.lower() not in dumped.lower(), f"an audit event's details carry {value!r}"

    purge = next(e for e in events if e.action == "patient.purged")
    assert purge.target_id == patient_id
    assert set(purge.details) == {"reason", "retention_days", "counts", "objects"}
    assert purge.details["reason"] == "retention"
    assert all(isinstance(count, int) for count in purge.details["counts"].values())
    assert purge.details["counts"]["idempotency_records"] == 2
