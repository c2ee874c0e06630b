"""Unusual bulk access: more than ``AUDIT_BULK_READ_THRESHOLD`` distinct patients read by one user or API
key within an hour writes an ``audit.bulk_access_detected`` event and emails the organization's admins.

It runs in the sealer, after each sealed batch, not in the request: the read events carry the patient
ids (``audit.reads``), so counting them here costs the readers nothing. The window slides: each
(organization, actor, patient) keeps its latest read time in ``RecentPatientRead`` and rows older than
the window are dropped. One alert per actor per window. The email names the organization, the actor and
the count; never a patient.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from . import reads
from .models import AuditEvent, RecentPatientRead
from .services import record

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
ALERT_ACTION = "audit.bulk_access_detected"
MONITOR_ACTOR = "system:audit-monitor"


def threshold() -> int:
    return int(getattr(settings, "AUDIT_BULK_READ_THRESHOLD", 0) or 0)


def _actor_of(event: AuditEvent) -> tuple[str, str, int] | None:
    if event.actor_user_id is not None:
        return f"user:{event.actor_user_id}", "accounts.user", event.actor_user_id
    if event.actor_api_client_id is not None:
        return f"api_client:{event.actor_api_client_id}", "accounts.apiclient", event.actor_api_client_id
    return None


def _collect(events) -> tuple[dict, dict, dict]:
    """Per (organization, actor): the patients read with their latest time, the event to name the actor
    by, and how many patients reads too large to list named."""
    read = defaultdict(dict)
    sample, unlisted = {}, defaultdict(int)
    for event in events:
        actor = _actor_of(event)
        if event.organization_id is None or actor is None:
            continue
        patients = reads.patients_of(event)
        omitted = reads.omitted_patient_count(event)
        if not patients and not omitted:
            continue
        chain = (event.organization_id, actor[0])
        sample[chain] = event
        unlisted[chain] += omitted
        for patient in patients:
            previous = read[chain].get(patient)
            read[chain][patient] = max(previous, event.occurred_at) if previous else event.occurred_at
    return read, sample, unlisted


def _alerted_within_window(organization_id: int, target_type: str, target_id: int, now) -> bool:
    return AuditEvent.objects.filter(
        organization_id=organization_id, action=ALERT_ACTION, target_type=target_type, target_id=str(target_id),
        occurred_at__gte=now - WINDOW,
    ).exists()


def observe(events) -> list[AuditEvent]:
    """Tally the reads in ``events``; returns the alert events written."""
    limit = threshold()
    if limit <= 0:
        return []
    read, sample, unlisted = _collect(events)
    if not sample:
        return []
    now = timezone.now()
    alerts = []
    with transaction.atomic():
        rows = [
            RecentPatientRead(organization_id=chain[0], actor=chain[1], patient_id=patient, last_read_at=when)
            for chain, patients in read.items()
            for patient, when in patients.items()
        ]
        RecentPatientRead.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["organization_id", "actor", "patient_id"],
            update_fields=["last_read_at"],
        )
        RecentPatientRead.objects.filter(last_read_at__lt=now - WINDOW).delete()
        for chain, event in sample.items():
            organization_id, actor = chain
            count = RecentPatientRead.objects.filter(
                organization_id=organization_id, actor=actor, last_read_at__gte=now - WINDOW
            ).count() + unlisted[chain]
            if count > limit and not _alerted_within_window(organization_id, *_actor_of(event)[1:], now):
                alerts.append(_alert(event, count, limit))
    return alerts


def _alert(event: AuditEvent, count: int, limit: int) -> AuditEvent:
    _, target_type, target_id = _actor_of(event)
    alert = record(
        action=ALERT_ACTION,
        actor=MONITOR_ACTOR,
        organization_id=event.organization_id,
        target_type=target_type,
        target_id=target_id,
        details={"distinct_patients": count, "threshold": limit, "window_minutes": int(WINDOW.total_seconds() // 60)},
    )
    label, organization_id = event.actor_label, event.organization_id
    transaction.on_commit(lambda: _email_admins(organization_id, label, count, limit), robust=True)
    # And under each admin's bell (in-app only: this email above is the alert's email).
    from notifications import publish

    publish.bulk_access_detected(organization_id=organization_id, alert_id=alert.pk)
    return alert


def _email_admins(organization_id: int, actor_label: str, count: int, limit: int) -> None:
    from urllib.parse import urlencode

    from accounts.models import Membership, Organization
    from accounts.roles import Role
    from accounts.tenancy import organization_scope

    organization = Organization.objects.get(pk=organization_id)
    with organization_scope(organization):
        recipients = sorted(
            Membership.objects.filter(role=Role.ORG_ADMIN, user__is_active=True).values_list("user__email", flat=True)
        )
    if not recipients:
        logger.warning("bulk access in organization %s: it has no active admin to tell", organization_id)
        return
    link = f"{settings.PORTAL_BASE_URL.rstrip('/')}/audit/?{urlencode({'actor': actor_label})}"
    body = (
        f"{actor_label} read the records of {count} different patients in {organization.name} within the last "
        f"hour; the alert threshold is {limit}.\n\n"
        "This may be legitimate (a bulk export, an integration catching up) or a sign of a compromised account "
        "or key. The audit log shows what was read:\n\n"
        f"{link}\n\n"
        "No patient data is included in this message.\n"
    )
    send_mail(
        subject=f"[MediLens] Unusual bulk access in {organization.name}",
        message=body,
        from_email=None,
        recipient_list=recipients,
    )


def observe_quietly(events) -> None:
    """``observe`` for the sealer: a failure of the monitor is logged and never stops sealing."""
    try:
        observe(events)
    except Exception:
        logger.exception("the bulk-access monitor failed on a sealed batch")
