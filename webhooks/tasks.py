"""Webhook delivery tasks: one attempt per message (acks_late: a worker killed mid-attempt leaves the
message to be redelivered), and the beat sweep for attempts no message is waiting for."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from accounts.models import Organization
from accounts.tenancy import organization_scope, scopes_disabled
from medilens.rls import maintenance

from . import delivery as attempts
from . import events
from .models import WebhookDelivery

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90,
             max_retries=None, ignore_result=True)
def deliver(self, delivery_id: str, attempt: int) -> str:
    # Which organization the delivery belongs to: one id, read through the maintenance role under Row-Level
    # Security; the attempt itself then runs in that organization's scope, under RLS.
    with scopes_disabled():
        organization_id = (
            WebhookDelivery.objects.using(maintenance.alias()).filter(pk=delivery_id)
            .values_list("organization_id", flat=True).first()
        )
        organization = Organization.objects.filter(pk=organization_id).first() if organization_id else None
    if organization is None:
        return "missing"
    with organization_scope(organization):
        try:
            outcome, delay = attempts.attempt(delivery_id, attempt)
        except attempts.Busy as busy:
            raise self.retry(countdown=busy.wait) from None
    if delay is not None and delay <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS:
        events.publish(delivery_id, attempt + 1, countdown=delay)
    # Longer waits: publish_due_deliveries publishes the attempt when it falls due.
    logger.info("webhook delivery %s attempt %s: %s", delivery_id, attempt, outcome)
    return outcome


@shared_task(ignore_result=True)
def publish_due_deliveries() -> int:
    with scopes_disabled():
        due = attempts.due_for_publishing(using=maintenance.alias())
    for delivery_id, attempt in due:
        events.publish(delivery_id, attempt)
    return len(due)
