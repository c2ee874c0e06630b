"""Writes of patient records: create, edit, consent, and the last-activity stamp. Keyword-only, an
explicit actor, one transaction with its audit event (re-exported by assessments.services).

Identity fields are sealed by the model (medilens.crypto); here they are validated, the one-MRN-per-
organization rule is checked through the MRN's blind token, and the patient's search tokens are rebuilt
whenever an identity field changes. Errors and audit details name fields, never their values, except
back to the person who typed them.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

import audit
from accounts.models import ApiClient
from medilens.crypto import blind
from webhooks import events as webhook_events

from . import patient_index
from .models import Patient, PatientSearchToken

PATIENT_FIELDS = [
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "postcode",
    "sex_at_birth",
    "height_cm",
    "weight_kg",
    "has_diabetes",
    "treated_hypertension",
    "current_smoker",
    "on_statin",
    "prior_cardiovascular_disease",
    "history_notes",
]
# Changing one of these changes what the patient is found by.
INDEXED_FIELDS = {"mrn", "given_name", "family_name", "date_of_birth"}
TEXT_LIMITS = {"mrn": 64, "given_name": 120, "family_name": 120, "postcode": 16}


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) and not isinstance(actor, ApiClient) else None


def _check_unknown(fields: dict) -> None:
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown patient field." for name in sorted(unknown)})


def _check_patient(patient: Patient) -> None:
    errors = {}
    today = timezone.localdate()
    if patient.date_of_birth and patient.date_of_birth > today:
        errors["date_of_birth"] = "The date of birth is in the future."
    elif patient.date_of_birth and patient.age_on(today) > 130:
        errors["date_of_birth"] = "The date of birth is more than 130 years ago."
    if patient.height_cm is not None and not 30 <= float(patient.height_cm) <= 272:
        errors["height_cm"] = "Height must be between 30 and 272 cm."
    if patient.weight_kg is not None and not 1 <= float(patient.weight_kg) <= 650:
        errors["weight_kg"] = "Weight must be between 1 and 650 kg."
    if not (patient.mrn or "").strip():
        errors["mrn"] = "A medical record number is required."
    # The columns hold ciphertext of any length: the plaintext limits are checked here.
    for name, limit in TEXT_LIMITS.items():
        if len(getattr(patient, name) or "") > limit:
            errors.setdefault(name, f"At most {limit} characters.")
    if errors:
        raise ValidationError(errors)


def _normalise(patient: Patient) -> None:
    patient.mrn = (patient.mrn or "").strip()
    patient.postcode = (patient.postcode or "").strip() or None


def _duplicate_mrn(patient: Patient) -> ValidationError:
    return ValidationError({"mrn": f"A patient with MRN {patient.mrn} already exists in this organization."})


def _mrn_taken(patient: Patient) -> bool:
    token = blind.token(patient.organization_id, "mrn-unique", blind.exact(patient.mrn))
    return Patient.objects.filter(mrn_index=token).exclude(pk=patient.pk).exists()


def create_patient(*, actor, organization, consent: bool = False, **fields) -> Patient:
    _check_unknown(fields)
    patient = Patient(organization=organization, created_by=_user(actor), **fields)
    _normalise(patient)
    _check_patient(patient)
    if _mrn_taken(patient):
        raise _duplicate_mrn(patient)
    if consent:
        patient.consent_recorded_at = timezone.now()
        patient.consent_recorded_by = _user(actor)
    try:
        with transaction.atomic():
            patient.save(force_insert=True)
            patient_index.reindex(patient)
            audit.record(
                action="patient.created",
                actor=actor,
                organization=organization,
                target=patient,
                details={"consent": consent},
            )
            webhook_events.emit(organization_id=organization.pk, event_type="patient.created", obj=patient)
    except IntegrityError:
        raise _duplicate_mrn(patient) from None
    return patient


def update_patient(*, actor, patient: Patient, **fields) -> Patient:
    _check_unknown(fields)
    if "mrn" in fields:
        fields["mrn"] = (fields["mrn"] or "").strip()
    if "postcode" in fields:
        fields["postcode"] = (fields["postcode"] or "").strip() or None
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, fields[name])
        _normalise(locked)
        _check_patient(locked)
        if "mrn" in changed and _mrn_taken(locked):
            raise _duplicate_mrn(locked)
        if changed:
            locked.last_activity_at = timezone.now()
            locked.save()
            if INDEXED_FIELDS.intersection(changed):
                patient_index.reindex(locked)
            else:
                touch(locked.pk, when=locked.last_activity_at)
            # Field names only: the values are PHI.
            audit.record(
                action="patient.updated",
                actor=actor,
                organization=locked.organization,
                target=locked,
                details={"fields": sorted(changed)},
            )
            webhook_events.emit(organization_id=locked.organization_id, event_type="patient.updated", obj=locked)
    return locked


def record_consent(*, actor, patient: Patient) -> Patient:
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if locked.consent_recorded_at is None:
            locked.consent_recorded_at = timezone.now()
            locked.consent_recorded_by = _user(actor)
            locked.save(update_fields=["consent_recorded_at", "consent_recorded_by", "updated_at"])
            touch(locked.pk, when=locked.consent_recorded_at)
            locked.last_activity_at = locked.consent_recorded_at
            audit.record(
                action="patient.consent_recorded", actor=actor, organization=locked.organization, target=locked
            )
    return locked


def touch(patient_id, *, when=None) -> None:
    """Stamp the patient's last activity (an assessment requested or signed off), on the patient and on its
    search tokens' copy: plain column updates, nothing re-sealed. Called inside the caller's transaction,
    which audits the activity itself."""
    when = when or timezone.now()
    Patient.objects.filter(pk=patient_id).update(last_activity_at=when)
    PatientSearchToken.objects.filter(patient_id=patient_id).update(last_activity_at=when)
