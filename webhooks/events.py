"""Emitting events: the services that change patients and assessments call ``emit`` inside their
transaction; a delivery row per subscribed endpoint is written in that same transaction (nothing is sent
for a change that rolls back) and its task is published on commit."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from accounts.tenancy import organization_id_scope

from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def publish(delivery_id, attempt: int, *, countdown: float = 0) -> None:
    """Queue one attempt of a delivery; a broker that is down leaves the row due for the beat sweep."""
    from django.conf import settings

    from .tasks import deliver

    try:
        deliver.apply_async(args=[str(delivery_id), attempt], queue=settings.WEBHOOK_QUEUE, countdown=countdown)
    except Exception:
        logger.exception("could not publish webhook delivery %s; the sweep will", delivery_id)


def publish_on_commit(delivery_ids: list, attempt: int = 1) -> None:
    ids = [str(pk) for pk in delivery_ids]
    if ids:
        transaction.on_commit(lambda: [publish(pk, attempt) for pk in ids])


def emit(*, organization_id: int, event_type: str, obj) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint of the organization that asked for this event type."""
    if not organization_id:
        raise ValueError("an event belongs to an organization")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit joins the caller's transaction")
    # The event's own organization is the scope (a caller such as the demo seed may run outside one).
    with organization_id_scope(organization_id):
        return _deliveries(organization_id, event_type, obj)


def _deliveries(organization_id: int, event_type: str, obj) -> list[WebhookDelivery]:
    candidates = WebhookEndpoint.objects.filter(organization_id=organization_id, enabled=True)
    endpoints = [
        endpoint
        for endpoint in candidates.only("id", "organization_id", "events")
        if event_type in endpoint.events  # in Python: SQLite (the embedded default) has no JSON containment
    ]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                endpoint=endpoint,
                message_id=new_message_id(),
                event_type=event_type,
                event_at=now,
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                next_attempt_at=now,
                window_started_at=now,
            )
            for endpoint in endpoints
        ]
    )
    publish_on_commit([d.pk for d in deliveries])
    return deliveries
