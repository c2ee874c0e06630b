"""Every write of notifications: creating them for an event (the worker, after the event's commit),
marking them read, and a user's email choices. Each runs in a transaction with its audit event.

``notify`` is idempotent: a (recipient, event key) pair makes one row, and its email is sent once, marked
by ``emailed_at`` under a row lock. A task that runs twice (acks_late redelivery) adds nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

import audit

from .kinds import EMAIL_BY_DEFAULT, EMAIL_CHOICE, EMAIL_LINES, Kind
from .models import EmailPreference, Notification

logger = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:notifications"


def notify(*, organization, kind: str, event_key: str, recipients, link: str) -> list[Notification]:
    """Notify each recipient once of this event; email those who want this kind by email. Returns the
    notifications this call created (none when it ran before)."""
    recipients = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not recipients:
        return []
    with transaction.atomic():
        existing = set(
            Notification.objects.filter(event_key=event_key, recipient_id__in=recipients).values_list(
                "recipient_id", flat=True
            )
        )
        fresh = [
            Notification(organization=organization, recipient=user, kind=kind, event_key=event_key, link=link)
            for pk, user in recipients.items()
            if pk not in existing
        ]
        # ignore_conflicts: a concurrent run of the same task inserted some of them first.
        Notification.objects.bulk_create(fresh, ignore_conflicts=True)
        if fresh:
            # ignore_conflicts leaves the objects without their ids: read the rows back.
            fresh = list(
                Notification.objects.filter(event_key=event_key, recipient_id__in=[n.recipient_id for n in fresh])
            )
            audit.record(
                action="notification.created",
                actor=SYSTEM_ACTOR,
                organization=organization,
                details={"kind": kind, "event": event_key, "recipients": [str(pk) for pk in recipients]},
            )
    send_pending_emails(event_key=event_key)
    return fresh


def wants_email(user, kind: str) -> bool:
    if kind not in EMAIL_CHOICE:
        return False
    choice = EmailPreference.objects.filter(user=user, kind=kind).values_list("email", flat=True).first()
    return EMAIL_BY_DEFAULT[kind] if choice is None else choice


def send_pending_emails(*, event_key: str) -> int:
    """Email the recipients of this event who want it and have not been emailed yet. Each row is locked
    while its email goes out: two runs of the task cannot both send it."""
    sent = 0
    pending = Notification.objects.filter(event_key=event_key, emailed_at=None).values_list("pk", flat=True)
    for pk in list(pending):
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(skip_locked=True)
                .select_related("recipient")
                .filter(pk=pk, emailed_at=None)
                .first()
            )
            if notification is None or not wants_email(notification.recipient, notification.kind):
                continue
            send_mail(**email_for(notification), from_email=None, recipient_list=[notification.recipient.email])
            notification.emailed_at = timezone.now()
            notification.save(update_fields=["emailed_at"])
            sent += 1
    return sent


def email_for(notification: Notification) -> dict:
    """Subject and body: the kind of event and a link, nothing about the patient."""
    link = f"{settings.PORTAL_BASE_URL.rstrip('/')}{notification.link}"
    body = (
        f"{EMAIL_LINES[Kind(notification.kind)]}\n\n"
        f"Open it in MediLens (sign-in required):\n{link}\n\n"
        "No patient data is included in this message. You can choose which notifications are emailed to you "
        f"on your notification settings page:\n{settings.PORTAL_BASE_URL.rstrip('/')}/notifications/settings/\n"
    )
    return {"subject": f"[MediLens] {notification.text}", "message": body}


def mark_read(*, user, organization, notification_id: int) -> Notification:
    """Mark one of ``user``'s notifications read. Another user's, or another organization's, is
    Notification.DoesNotExist (the view's 404)."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(
            pk=notification_id, recipient=user, organization=organization
        )
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
            audit.record(action="notification.read", actor=user, organization=organization, target=notification)
    return notification


def mark_all_read(*, user, organization) -> int:
    with transaction.atomic():
        count = Notification.objects.filter(recipient=user, organization=organization, read_at=None).update(
            read_at=timezone.now()
        )
        if count:
            audit.record(
                action="notification.all_read", actor=user, organization=organization, details={"count": count}
            )
    return count


def set_email_preferences(*, user, organization, email_kinds) -> None:
    """``email_kinds``: the kinds the user wants by email; every other choosable kind is turned off."""
    wanted = set(email_kinds)
    unknown = wanted - set(EMAIL_CHOICE)
    if unknown:
        raise ValueError(f"not a choosable kind: {sorted(unknown)}")
    with transaction.atomic():
        for kind in EMAIL_CHOICE:
            EmailPreference.objects.update_or_create(user=user, kind=kind, defaults={"email": kind in wanted})
        audit.record(
            action="notification.preferences_changed",
            actor=user,
            organization=organization,
            details={"email": sorted(wanted)},
        )
