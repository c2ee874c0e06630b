"""Celery tasks. Each takes ids, finds its organization, and works inside that organization's scope."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from accounts.tenancy import organization_id_scope, organization_scope, scopes_disabled
from audit import context as audit_context
from medilens import storage
from medilens.rls import context as row_security
from medilens.rls import maintenance

from .models import Assessment

logger = logging.getLogger(__name__)

SOFT_TIME_LIMIT = 300
HARD_TIME_LIMIT = 360
MAX_RETRY_COUNTDOWN = 120


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    max_retries=5,
    ignore_result=True,
)
def run_assessment(self, assessment_id: str, organization_id: int | None = None) -> str:
    """``organization_id``: the assessment's organization as the publisher knew it (status_services.enqueue),
    which saves the lookup that would find it: one transaction fewer per assessment. It is a hint, not a
    grant: the claim reads the row inside that organization's scope (Row-Level Security included), so a
    wrong one finds nothing and the task falls back to the lookup. Messages without it (published before
    it existed) take the lookup. Upgrading: deploy the workers before the web processes, so that no worker
    of the old signature receives the two-argument message."""
    from . import pipeline

    if organization_id is None:
        organization_id = _organization_of(assessment_id)
        if organization_id is None:
            return _missing(assessment_id)
    with audit_context.bind(request_id=f"task-{self.request.id or ''}"[:64]):
        try:
            outcome = _run_in_scope(organization_id, assessment_id, self.request.id)
            if outcome is None:  # not in the hinted organization: find its own
                found = _organization_of(assessment_id)
                if found in (None, organization_id):
                    return _missing(assessment_id)
                organization_id = found
                outcome = _run_in_scope(organization_id, assessment_id, self.request.id) or _missing(assessment_id)
        except storage.TransientStorageError as error:
            countdown = _backoff(self.request.retries)
            logger.warning("assessment %s: storage unavailable (%s); retry in %ss", assessment_id, error, countdown)
            if self.request.retries >= self.max_retries:
                with organization_id_scope(organization_id):
                    pipeline._fail(assessment_id, "The file store was unavailable for too long. Retry the assessment.")
                return "failed"
            raise self.retry(exc=error, countdown=countdown) from None
        except (OperationalError, InterfaceError) as error:
            # The database connection was lost (a restart, a failover, a killed backend): nothing of this run
            # was committed after its claim, so it runs again from the top on a new connection. After the
            # last retry the message is left to the reaper, which requeues the running assessment.
            connections.close_all()
            countdown = _backoff(self.request.retries)
            logger.warning("assessment %s: database connection lost (%s); retry in %ss", assessment_id,
                           type(error).__name__, countdown)
            raise self.retry(exc=error, countdown=countdown) from None
        except SoftTimeLimitExceeded:
            services_reason = f"The analysis took longer than {SOFT_TIME_LIMIT} s and was stopped."
            with organization_id_scope(organization_id):
                pipeline._fail(assessment_id, services_reason)
            return "failed"
    logger.info("assessment %s: %s", assessment_id, outcome)
    return outcome


def _backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: doubling from ASSESSMENT_RETRY_BASE_SECONDS, capped."""
    return min(MAX_RETRY_COUNTDOWN, settings.ASSESSMENT_RETRY_BASE_SECONDS * 2**retries)


def _missing(assessment_id) -> str:
    logger.warning("run_assessment: no assessment %s", assessment_id)
    return "missing"


def _organization_of(assessment_id) -> int | None:
    # Row-Level Security: the application role reads this one assessment (app.assessment_id) to learn its
    # organization; everything after runs in that organization's scope.
    with scopes_disabled(), row_security.bind(assessment_id=assessment_id):
        return Assessment.objects.filter(pk=assessment_id).values_list("organization_id", flat=True).first()


def _run_in_scope(organization_id: int, assessment_id, message_id=None) -> str | None:
    """pipeline.run inside the organization's scope; None when the assessment is not in it."""
    from . import pipeline

    with organization_id_scope(organization_id):
        try:
            return pipeline.run(assessment_id, batch_size=settings.ASSESSMENT_BATCH_SIZE, message_id=message_id)
        except Assessment.DoesNotExist:
            return None


@shared_task(ignore_result=True)
def reap_stuck_assessments() -> dict:
    """Beat: requeue or fail assessments stuck past their deadline; re-publish lost queued ones."""
    from . import services

    totals = {"requeued": 0, "failed": 0, "republished": 0, "unpublished": 0}
    # Which organizations have work in flight: a cross-tenant read, so through the maintenance role
    # (BYPASSRLS); each organization's reaping then runs in its own scope, under Row-Level Security.
    with scopes_disabled():
        org_ids = set(
            Assessment.objects.using(maintenance.alias())
            .filter(status__in=[Assessment.Status.RUNNING, Assessment.Status.QUEUED])
            .values_list("organization_id", flat=True)
            .distinct()
        )
        from accounts.models import Organization

        organizations = list(Organization.objects.filter(pk__in=org_ids))
    for organization in organizations:
        with organization_scope(organization):
            for key, value in services.reap_stuck().items():
                totals[key] += value
    if any(totals.values()):
        logger.info("reaper: %s", totals)
    return totals


@shared_task(ignore_result=True)
def sweep_orphan_objects() -> int:
    from .sweep import sweep_orphans

    return sweep_orphans(grace_seconds=settings.ORPHAN_GRACE_SECONDS)


@shared_task(ignore_result=True)
def purge_idempotency_records() -> int:
    """Beat: idempotency records past IDEMPOTENCY_KEY_TTL_HOURS go (lookups ignore them already)."""
    from .api.idempotency import purge_expired

    return purge_expired()
