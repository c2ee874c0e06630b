"""Retention's writes: purge a patient with everything they own, place or release a legal hold.

A patient whose last activity (``Patient.last_activity_at``: an assessment, an edit, a sign-off) is older
than the organization's ``data_retention_days`` is purged, unless a legal hold is on. One transaction per
patient: the rows, deleted children first (``Assessment.patient`` and ``BiomarkerValue.patient`` are
PROTECT), a signed purge-ledger entry, and the audit event naming counts and the patient's internal id,
never PHI. The stored objects are deleted after the commit; one that cannot be deleted then is an orphan,
which the orphan sweep (assessments/sweep.py) removes.

Audit events are kept: they hold ids and counts only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from assessments.models import (
    AIExplanation,
    Assessment,
    BiomarkerValue,
    Discussion,
    DiscussionMessage,
    IdempotencyRecord,
    Patient,
    PipelineStage,
    ResultArtifact,
    ResultVersion,
    UploadedFile,
)
from medilens import storage

from . import ledger

logger = logging.getLogger(__name__)

ACTOR = "system:retention"
REASON_RETENTION = "retention"
REASON_LEDGER = "ledger_replay"


def cutoff(organization, now: datetime) -> datetime:
    """Activity before this instant is past the organization's retention."""
    return now - timedelta(days=organization.data_retention_days)


def _idempotency_records(patient: Patient, assessments) -> list[int]:
    """Idempotency records that name the patient or one of their assessments (in their path or the ids a
    replay would re-read): they go with the patient. Matched in Python, not with a JSON lookup SQLite lacks;
    there are few (they expire after 48 hours)."""
    ids = {str(patient.pk), *(str(pk) for pk in assessments.values_list("pk", flat=True))}
    records = IdempotencyRecord.objects.filter(organization_id=patient.organization_id).only("path", "resource_ids")
    return [r.pk for r in records if ids & set(r.resource_ids or []) or any(i in r.path for i in ids)]


def _owned(patient: Patient) -> dict:
    """The querysets of everything the patient owns, children first (the order they are deleted in)."""
    assessments = Assessment.objects.filter(patient=patient)
    return {
        "biomarkers": BiomarkerValue.objects.filter(patient=patient),
        "messages": DiscussionMessage.objects.filter(discussion__assessment__patient=patient),
        "discussions": Discussion.objects.filter(assessment__patient=patient),
        "explanations": AIExplanation.objects.filter(assessment__patient=patient),
        "files": UploadedFile.objects.filter(assessment__patient=patient),
        "result_artifacts": ResultArtifact.objects.filter(version__assessment__patient=patient),
        "result_versions": ResultVersion.objects.filter(assessment__patient=patient),
        "stages": PipelineStage.objects.filter(assessment__patient=patient),
        "idempotency_records": IdempotencyRecord.objects.filter(pk__in=_idempotency_records(patient, assessments)),
        "assessments": assessments,
    }


def _stored_keys(patient: Patient) -> list[str]:
    keys = list(UploadedFile.objects.filter(assessment__patient=patient).values_list("storage_key", flat=True))
    keys += AIExplanation.objects.filter(assessment__patient=patient).exclude(image_key="").values_list(
        "image_key", flat=True
    )
    # Every result version's files (a body scan's mesh is the patient's body) and the explanation images the
    # earlier versions keep.
    keys += ResultArtifact.objects.filter(version__assessment__patient=patient).values_list("storage_key", flat=True)
    versions = ResultVersion.objects.filter(assessment__patient=patient).exclude(explanation_image_key="")
    keys += [key for key in versions.values_list("explanation_image_key", flat=True) if key not in keys]
    return keys


def _delete_everything(patient: Patient) -> tuple[dict, list[str]]:
    keys = _stored_keys(patient)
    counts = {}
    for name, queryset in _owned(patient).items():
        # Counted from what delete() removed, so the audit event says what happened, not what was planned.
        _total, per_model = queryset.delete()
        counts[name] = per_model.get(queryset.model._meta.label, 0)
    patient.delete()
    return counts, keys


def _purge_locked(*, actor, organization, patient: Patient, reason: str, now: datetime, to_ledger: bool = True) -> dict:
    patient_id = str(patient.pk)  # delete() clears the instance's pk
    counts, keys = _delete_everything(patient)
    details = {"reason": reason, "retention_days": organization.data_retention_days, "counts": counts,
               "objects": len(keys)}
    # Written before the commit: an entry whose transaction then fails names a patient who is still due and
    # will be purged by the next run, while an entry written after could be lost, and a restore would bring
    # the patient back.
    if to_ledger:
        ledger.write(
            ledger.LedgerEntry(
                organization_id=organization.pk, patient_id=patient_id, purged_at=now, reason=reason, counts=counts
            )
        )
    audit.record(
        action="patient.purged",
        actor=actor,
        organization=organization,
        target_type="assessments.patient",
        target_id=patient_id,
        details=details,
    )
    transaction.on_commit(lambda: storage.delete_quietly(keys))
    return details


def purge_patient(*, actor, organization, patient_id, now: datetime | None = None) -> dict | None:
    """Purge one patient if, under the row lock, they are still past retention and not on hold.

    Returns the audit details (counts), or None when the patient was left alone (gone, held or active).
    """
    now = now or timezone.now()
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(pk=patient_id, organization=organization).first()
        if patient is None or patient.legal_hold or patient.last_activity_at >= cutoff(organization, now):
            return None
        patient_pk = patient.pk
        details = _purge_locked(actor=actor, organization=organization, patient=patient, reason=REASON_RETENTION,
                                now=now)
    logger.info("retention purged patient %s of organization %s", patient_pk, organization.pk)
    return details


def replay_purge(*, organization, entry: ledger.LedgerEntry, now: datetime | None = None) -> dict | None:
    """Purge again a patient that the ledger says was purged, after a restore brought them back.

    No retention or hold check: the purge happened, and the restored copy only predates it. Audited (reason
    ``ledger_replay``); the ledger already holds the entry, which a later restore replays again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(pk=entry.patient_id, organization=organization).first()
        if patient is None:
            return None
        return _purge_locked(
            actor=ACTOR, organization=organization, patient=patient, reason=REASON_LEDGER, now=now, to_ledger=False
        )


def replay_ledger(entries: list[ledger.LedgerEntry] | None = None) -> list[str]:
    """Purge again every patient the ledger names who is in the database (after a restore or a point-in-time
    recovery brought them back); returns their ids. Entries are read and verified first when not given."""
    from accounts.models import Organization
    from accounts.tenancy import organization_scope

    entries = ledger.entries() if entries is None else entries
    organizations = Organization.objects.in_bulk({entry.organization_id for entry in entries})
    replayed = []
    for entry in entries:
        organization = organizations.get(entry.organization_id)
        if organization is None:
            continue
        with organization_scope(organization):
            if replay_purge(organization=organization, entry=entry) is not None:
                replayed.append(entry.patient_id)
    return replayed


def purge_expired(*, organization, now: datetime | None = None, dry_run: bool = False) -> list[str]:
    """Purge every patient of the organization that is past retention and not held; returns their ids
    (for a dry run: the ids that would be purged, nothing changed)."""
    from .selectors import expired_patient_ids

    now = now or timezone.now()
    candidates = expired_patient_ids(organization, now=now)
    if dry_run:
        return [str(pk) for pk in candidates]
    purged = []
    for patient_id in candidates:
        if purge_patient(actor=ACTOR, organization=organization, patient_id=patient_id, now=now) is not None:
            purged.append(str(patient_id))
    return purged


def set_legal_hold(*, actor, organization, patient: Patient, hold: bool) -> Patient:
    """Place (hold=True) or release a legal hold; audited. Setting what is already set changes nothing."""
    if not isinstance(hold, bool):
        raise ValidationError({"hold": "Choose whether to place or release the hold."})
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk, organization=organization)
        if locked.legal_hold != hold:
            locked.legal_hold = hold
            locked.save(update_fields=["legal_hold", "updated_at"])
            audit.record(
                action="patient.legal_hold_placed" if hold else "patient.legal_hold_released",
                actor=actor,
                organization=organization,
                target=locked,
            )
    return locked
