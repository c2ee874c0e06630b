"""The daily retention purge (Celery beat: ``purge-expired-patients`` in settings)."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import Organization
from accounts.tenancy import organization_scope
from audit import context as audit_context

from . import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def purge_expired_patients() -> dict:
    """Purge, organization by organization, every patient past retention and not on hold. Idempotent: a
    redelivered run finds those patients gone. Returns the count per organization id."""
    totals = {}
    with audit_context.bind(request_id="task-retention"):
        for organization in Organization.objects.order_by("pk"):
            with organization_scope(organization):
                purged = services.purge_expired(organization=organization)
            if purged:
                totals[organization.pk] = len(purged)
    if totals:
        logger.info("retention purge: %s patient(s) per organization id", totals)
    return totals
