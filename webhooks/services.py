"""Every change to webhook endpoints: keyword-only, acting user or client and organization explicit, one
transaction with its audit event. The secret is returned only by create and rotate; it is never audited."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User

from . import events, guard
from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, new_secret

EDITABLE = ("url", "description", "events", "enabled")


def _user(actor):
    return actor if isinstance(actor, User) else None


def _clean_events(value) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValidationError({"events": "Choose at least one event."})
    unknown = sorted({str(v) for v in value} - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}."})
    return [e for e in EVENT_TYPES if e in value]


def check_url(url: str) -> str:
    """The URL's form and where it points, now; deliveries check again at every attempt."""
    try:
        guard.resolve(url)
    except guard.Refused as refusal:
        raise ValidationError({"url": str(refusal)}) from None
    return url.strip()


def create_endpoint(*, actor, organization, url: str, events: list[str], description: str = "", enabled: bool = True):
    """Returns the endpoint and its secret (shown once)."""
    endpoint = WebhookEndpoint(
        organization=organization,
        url=check_url(url),
        events=_clean_events(events),
        description=(description or "").strip()[:200],
        enabled=bool(enabled),
        secret=new_secret(),
        created_by=_user(actor),
    )
    with transaction.atomic():
        endpoint.save(force_insert=True)
        audit.record(
            action="webhook.created",
            actor=actor,
            organization=organization,
            target=endpoint,
            details={"events": endpoint.events, "enabled": endpoint.enabled},
        )
    return endpoint, endpoint.secret


def _locked(organization, endpoint_id) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id, organization=organization)


def update_endpoint(*, actor, organization, endpoint_id, **fields) -> WebhookEndpoint:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if "url" in fields:
        fields["url"] = check_url(fields["url"])
    if "events" in fields:
        fields["events"] = _clean_events(fields["events"])
    if "description" in fields:
        fields["description"] = (fields["description"] or "").strip()[:200]
    with transaction.atomic():
        endpoint = _locked(organization, endpoint_id)
        changed = sorted(name for name, value in fields.items() if getattr(endpoint, name) != value)
        for name in changed:
            setattr(endpoint, name, fields[name])
        if changed:
            endpoint.save()
            audit.record(
                action="webhook.updated", actor=actor, organization=organization, target=endpoint,
                details={"fields": changed},
            )
    return endpoint


def rotate_secret(*, actor, organization, endpoint_id) -> tuple[WebhookEndpoint, str]:
    """A new secret; the old one keeps signing too for WEBHOOK_PREVIOUS_SECRET_SECONDS, so the partner can
    switch without losing a delivery."""
    with transaction.atomic():
        endpoint = _locked(organization, endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(
            seconds=settings.WEBHOOK_PREVIOUS_SECRET_SECONDS
        )
        endpoint.secret = new_secret()
        endpoint.save()
        audit.record(
            action="webhook.secret_rotated", actor=actor, organization=organization, target=endpoint,
            details={"previous_valid_until": endpoint.previous_secret_expires_at.isoformat()},
        )
    return endpoint, endpoint.secret


def delete_endpoint(*, actor, organization, endpoint_id) -> None:
    with transaction.atomic():
        endpoint = _locked(organization, endpoint_id)
        audit.record(
            action="webhook.deleted", actor=actor, organization=organization, target=endpoint,
            details={"deliveries": endpoint.deliveries.count()},
        )
        endpoint.delete()


def resend_delivery(*, actor, organization, endpoint_id, delivery_id) -> WebhookDelivery:
    """Send one event again, with its webhook-id (receivers that saw it already know it), and a fresh retry
    window. A delivery still under way is refused."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(endpoint_id=endpoint_id, endpoint__organization=organization)
            .get(pk=delivery_id, organization=organization)
        )
        if delivery.status in WebhookDelivery.OPEN:
            raise ValidationError("This delivery is still being attempted.")
        now = timezone.now()
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = now
        delivery.window_started_at = now
        delivery.in_flight_since = None
        delivery.manual = True
        delivery.save()
        audit.record(
            action="webhook.delivery_resent", actor=actor, organization=organization, target=delivery,
            details={"event": delivery.event_type, "message_id": delivery.message_id},
        )
        events.publish_on_commit([delivery.pk], attempt=delivery.attempts + 1)
    return delivery
