"""Patient (kiosk) mode's writes: starting the battery and leaving it, each with its audit event in the same
transaction. (The battery's responses become an assessment through ``assessments.services.create_assessment``.)"""

from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction

import audit
from accounts.models import Organization
from assessments.models import Assessment, Patient
from audit.models import AuditEvent
from modalities.cognitive.protocol import WORD_LISTS, protocol_sequences

MODALITY = "cognitive"
CONSENT_MISSING = "This patient's consent is not recorded; record it before requesting an assessment."


def new_protocol(patient: Patient) -> dict:
    """What this administration presents: a word list (rotating through the equivalent lists, so that a
    retest uses new words) and unpredictable digit sequences."""
    earlier = Assessment.objects.filter(patient=patient, modality=MODALITY).count()
    list_ids = sorted(WORD_LISTS)
    list_id = list_ids[earlier % len(list_ids)]
    return {"list_id": list_id, "words": list(WORD_LISTS[list_id]), **protocol_sequences(random.SystemRandom())}


def start_battery(*, actor, organization: Organization, patient: Patient) -> dict:
    """The protocol of a new administration for this patient, audited as ``kiosk.started``; refused
    (ValidationError on ``patient``) when the organization requires consent and none is recorded."""
    with transaction.atomic():
        patient = Patient.objects.get(pk=patient.pk, organization=organization)
        if organization.require_consent_for_assessment and not patient.has_consent:
            raise ValidationError({"patient": CONSENT_MISSING})
        protocol = new_protocol(patient)
        audit.record(
            action="kiosk.started",
            actor=actor,
            organization=organization,
            target=patient,
            details={"modality": MODALITY, "word_list": protocol["list_id"]},
        )
    return protocol


def record_exit(
    *, actor, organization_id: int | None, running: dict, via: str, outcome: str = AuditEvent.Outcome.SUCCESS,
    reason: str = "",
) -> None:
    """One attempt to leave patient mode (``via`` "password" or "sign_out"), with its outcome, as
    ``kiosk.exited``. What was typed is never recorded: only whether it was wrong, missing or locked out."""
    details = {"via": via, "submitted": bool(running.get("assessment"))}
    if running.get("assessment") and via == "password":
        details["assessment_id"] = running["assessment"]
    if reason:
        details["reason"] = reason
    with transaction.atomic():
        audit.record(
            action="kiosk.exited",
            actor=actor,
            organization_id=organization_id,
            target_type="assessments.patient",
            target_id=running["patient"],
            outcome=outcome,
            details=details,
        )
