"""One attempt of one delivery, and what follows from its outcome (retry, success, failing endpoint).

Each queued message names the attempt it is for. ``claim`` lets exactly one message run each attempt: a
message for an attempt already made is a duplicate and does nothing; an attempt left in flight by a worker
that died is taken over once it cannot still be running, so a killed worker loses no event.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import guard, notify, payloads, signing, transport
from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status


def lease() -> timedelta:
    """How long an attempt can run: past this, an attempt still marked in flight was abandoned."""
    return timedelta(seconds=settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_TOTAL_TIMEOUT + 2)


def backoff(attempts: int) -> float:
    """Exponential from the base, capped, with jitter (half to all of it) so retries spread out."""
    ceiling = min(settings.WEBHOOK_RETRY_MAX_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class Busy(Exception):
    """The attempt may still be in flight elsewhere: ask again after ``wait`` seconds."""

    def __init__(self, wait: float):
        super().__init__(wait)
        self.wait = wait


def claim(delivery_id, attempt: int) -> WebhookDelivery | None:
    """Start attempt number ``attempt`` (committed before anything is sent), or None if this message is stale."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status not in WebhookDelivery.OPEN:
            return None
        if delivery.in_flight_since is not None and delivery.attempts in (attempt - 1, attempt):
            abandoned_at = delivery.in_flight_since + lease()
            if abandoned_at > now:
                raise Busy((abandoned_at - now).total_seconds() + 0.5)
        elif delivery.attempts != attempt - 1:
            return None  # a duplicate of an attempt already made
        delivery.attempts += 1
        delivery.in_flight_since = now
        delivery.last_attempt_at = now
        delivery.save(update_fields=["attempts", "in_flight_since", "last_attempt_at"])
    return delivery


def _send(delivery: WebhookDelivery) -> transport.Outcome | str:
    """The outcome of the request, or a final reason not to send."""
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).first()
    if endpoint is None or not endpoint.enabled:
        return "The endpoint is disabled."
    body = payloads.body(delivery)
    if body is None:
        return f"The {delivery.object_type} no longer exists."
    try:
        target = guard.resolve(endpoint.url)
    except guard.Refused as refusal:
        return transport.Outcome(status_code=None, error=str(refusal)[:200])
    now = timezone.now()
    headers = signing.headers(
        message_id=delivery.message_id, secrets=endpoint.signing_secrets(now), body=body, at=now
    )
    return transport.post(target, body, headers)


def attempt(delivery_id, number: int) -> tuple[str, float | None]:
    """Make one attempt. Returns (what happened, seconds until the next attempt or None)."""
    delivery = claim(delivery_id, number)
    if delivery is None:
        return "stale", None
    outcome = _send(delivery)
    return _record(delivery.pk, outcome)


def _record(delivery_id, outcome) -> tuple[str, float | None]:
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_id)
        delivery.in_flight_since = None
        if isinstance(outcome, str):
            delivery.status, delivery.last_error = Status.FAILED, outcome
            delivery.save()
            return "dropped", None
        delivery.last_response_code = outcome.status_code
        delivery.last_error = outcome.error or ("" if outcome.succeeded else f"HTTP {outcome.status_code}")
        if outcome.succeeded:
            delivery.status = Status.SUCCEEDED
            delivery.save()
            _mark_healthy(delivery.endpoint)
            return "succeeded", None
        delay = backoff(delivery.attempts)
        window_ends = delivery.window_started_at + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
        if not outcome.retryable or now + timedelta(seconds=delay) > window_ends:
            delivery.status = Status.FAILED
            delivery.save()
            if outcome.retryable:  # retried for the whole window: the endpoint is failing
                _mark_failing(delivery.endpoint)
            return "failed", None
        delivery.status = Status.RETRYING
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        delivery.save()
        return "retrying", delay


def _mark_healthy(endpoint: WebhookEndpoint) -> None:
    if endpoint.health != WebhookEndpoint.Health.HEALTHY:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(health=WebhookEndpoint.Health.HEALTHY, failing_since=None)


def _mark_failing(endpoint: WebhookEndpoint) -> None:
    updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, health=WebhookEndpoint.Health.HEALTHY).update(
        health=WebhookEndpoint.Health.FAILING, failing_since=timezone.now()
    )
    if updated:  # once per failing spell, not once per failed delivery
        transaction.on_commit(lambda: notify.endpoint_failing(endpoint))


def due_for_publishing(now=None, *, using: str = "default") -> list[tuple[str, int]]:
    """Open deliveries whose attempt is due and has no message we can count on: retries further away than a
    broker countdown, messages lost while the broker was down, attempts abandoned by a dead worker. A
    cross-tenant read: the beat task passes the maintenance alias (README, 'Row-Level Security')."""
    now = now or timezone.now()
    grace = timedelta(seconds=60)
    rows = WebhookDelivery.objects.using(using).filter(
        status__in=WebhookDelivery.OPEN, next_attempt_at__lte=now - grace
    )
    due = []
    for pk, attempts, in_flight in rows.values_list("pk", "attempts", "in_flight_since")[:1000]:
        if in_flight is None:
            due.append((str(pk), attempts + 1))
        elif in_flight + lease() + grace <= now:
            due.append((str(pk), attempts))
    return due
