"""The one place an assessment's status changes: lock the row, check the move against
``Assessment.TRANSITIONS``, stamp its time, audit it; publish the task when it becomes queued; and the
reaper that requeues or fails work stuck past its deadline.

Re-exported by ``assessments.services``, where callers find every state change.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from modalities import registry
from webhooks import events as webhook_events

from .models import Assessment, PipelineStage, ResultVersion

logger = logging.getLogger(__name__)

Status = Assessment.Status


class TransitionRefused(ValidationError):
    pass


# ``deadline_at=None`` clears the deadline; leaving the argument out keeps it.
_UNCHANGED = object()


def enqueue(assessment: Assessment) -> None:
    """Publish run_assessment after the transaction commits (never for rows that might roll back)."""
    assessment_id, organization_id, modality = str(assessment.pk), assessment.organization_id, assessment.modality
    transaction.on_commit(lambda: publish(assessment_id, organization_id, modality))


def publish(assessment_id: str, organization_id: int, modality: str) -> bool:
    """Send run_assessment, on its modality's queue, for a committed queued row now; False when the broker refused
    it (the row stays queued, with its last_enqueued_at unchanged, and the reaper publishes it again later)."""
    from .tasks import run_assessment

    queue = registry.get(modality).modality.queue
    message_id = uuid.uuid4()
    try:
        # The organization goes with the id so that the worker need not look it up (a hint the task checks).
        run_assessment.apply_async(args=[assessment_id, organization_id], queue=queue, task_id=str(message_id))
    except Exception:
        logger.exception("could not publish assessment %s; the reaper will retry", assessment_id)
        return False
    Assessment.objects.with_scopes_disabled().filter(pk=assessment_id).update(
        last_enqueued_at=timezone.now(), last_message_id=message_id
    )
    return True


def lock(assessment_id, *, related=(), organization=None, finishing: bool = False) -> Assessment:
    """The assessment's row, locked (``select_for_update``) in the caller's transaction, and marked as locked
    by it: ``apply_transition`` accepts only a row marked so in the transaction it runs in.

    ``finishing``: the caller will complete or fail it, which emits a webhook event; the same statement reads
    whether the organization has an endpoint at all (webhooks.events.endpoints_exist), so that the emit of
    an organization without one reads nothing."""
    queryset = _locking("lock()", related=related, finishing=finishing)
    if organization is not None:  # a service acting for an organization re-fetches within it (DESIGN rule 10)
        queryset = queryset.filter(organization=organization)
    return _marked_locked([queryset.get(pk=assessment_id)])[0]


def lock_queued(*, organization_id: int, modalities: list[str], besides, limit: int) -> list[Assessment]:
    """Up to ``limit`` queued first analyses of ``modalities`` in the organization, other than ``besides``,
    oldest queue time first, locked in the caller's transaction as ``lock(..., related=("patient",),
    finishing=True)`` locks one (so ``apply_transition`` accepts them). Rows another transaction holds
    (a cancel, another worker's batch) are skipped, not waited for (SKIP LOCKED): a batch never waits on a
    row, so two workers' batches cannot deadlock. PostgreSQL only (SQLite has no row locks)."""
    queryset = _locking("lock_queued()", related=("patient",), finishing=True, skip_locked=True)
    if limit < 1 or not modalities:
        return []
    queued = queryset.filter(
        organization_id=organization_id, status=Status.QUEUED, completed_at__isnull=True, modality__in=modalities,
    ).exclude(pk=besides)
    return _marked_locked(list(queued.order_by("queued_at", "pk")[:limit]))


def _locking(caller: str, *, related=(), finishing: bool = False, skip_locked: bool = False):
    """The queryset ``lock`` and ``lock_queued`` lock rows with, in the caller's transaction (refused outside
    one: the lock ends with it)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{caller} needs the caller's transaction: the lock ends with it")
    queryset = Assessment.objects.select_for_update(skip_locked=skip_locked, of=("self",))
    if related:
        queryset = queryset.select_related(*related)
    if finishing:
        queryset = queryset.annotate(**{webhook_events.ENDPOINTS_EXIST: webhook_events.endpoints_exist(Assessment)})
    return queryset


def _marked_locked(rows: list[Assessment]) -> list[Assessment]:
    """Rows marked as locked by the current transaction: what ``apply_transition`` (``_check_locked``) accepts."""
    block = transaction.get_connection().atomic_blocks[0]
    for row in rows:
        row._locked_by = block
    return rows


def transition(
    assessment_id,
    to: str,
    *,
    actor,
    reason: str = "",
    expected_from: str | None = None,
    deadline_at=_UNCHANGED,
    attempts: int | None = None,
    reaper_requeues: int | None = None,
) -> Assessment:
    """The one place assessment status changes: lock the row, check the move, stamp its time, audit it.

    ``expected_from``: the status the caller decided on (a retry acts on a failed assessment); checked under
    the row lock, so a caller that read the status earlier cannot act on a row that has moved on since."""
    with transaction.atomic():
        assessment = lock(assessment_id)
        return apply_transition(
            assessment, to, actor=actor, reason=reason, expected_from=expected_from, deadline_at=deadline_at,
            attempts=attempts, reaper_requeues=reaper_requeues,
        )


def _check_locked(assessment: Assessment) -> None:
    connection = transaction.get_connection()
    blocks = connection.atomic_blocks
    if not connection.in_atomic_block or not blocks or getattr(assessment, "_locked_by", None) is not blocks[0]:
        raise RuntimeError("apply_transition needs a row locked by status_services.lock() in this transaction")


# The one move outside Assessment.TRANSITIONS: a completed assessment queued again for a re-analysis
# (version_services.reanalyse_assessment), never by a plain transition (a retry, the reaper).
REANALYSIS_TRANSITIONS = {Status.COMPLETED: {Status.QUEUED}}


def _check_move(assessment: Assessment, to: str, expected_from: str | None, *, reanalysis: bool = False) -> None:
    current = assessment.get_status_display().lower()
    if expected_from is not None and assessment.status != expected_from:
        raise TransitionRefused(
            f"This assessment is {current} now, no longer {Status(expected_from).label.lower()}: "
            "nothing was changed."
        )
    allowed = Assessment.TRANSITIONS[assessment.status]
    if reanalysis:
        allowed = allowed | REANALYSIS_TRANSITIONS.get(assessment.status, set())
    if to not in allowed:
        raise TransitionRefused(f"An assessment that is {current} cannot become {to}.")


def apply_transition(
    assessment: Assessment,
    to: str,
    *,
    actor,
    reason: str = "",
    expected_from: str | None = None,
    deadline_at=_UNCHANGED,
    attempts: int | None = None,
    reaper_requeues: int | None = None,
    save: bool = True,
    reanalysis: bool = False,
) -> Assessment:
    """``transition`` on a row the caller locked with ``lock()`` in the current transaction: the pipeline
    claims and saves results this way without locking and saving the row twice. Saves the row, with any
    other fields the caller changed on it (the results, when it completes). ``deadline_at`` (the worker's
    claim), ``attempts`` and ``reaper_requeues`` are the only other fields a move sets. ``save=False``: the
    caller saves the row later in this same transaction (the pipeline's one-transaction claim is saved with
    the results, one UPDATE instead of two); the move is checked and audited here all the same.
    ``reanalysis`` also allows REANALYSIS_TRANSITIONS."""
    _check_locked(assessment)
    _check_move(assessment, to, expected_from, reanalysis=reanalysis)
    previous = assessment.status
    now = timezone.now()
    assessment.status = to
    stamp = {
        Status.QUEUED: "queued_at",
        Status.RUNNING: "started_at",
        Status.COMPLETED: "completed_at",
        Status.FAILED: "failed_at",
        Status.CANCELLED: "cancelled_at",
    }[to]
    setattr(assessment, stamp, now)
    if to == Status.FAILED:
        assessment.failure_reason = reason or "The analysis failed."
    if to == Status.QUEUED:
        assessment.failure_reason = ""
        assessment.deadline_at = None
    if deadline_at is not _UNCHANGED:
        assessment.deadline_at = deadline_at
    if attempts is not None:
        assessment.attempts = attempts
    if reaper_requeues is not None:
        assessment.reaper_requeues = reaper_requeues
    if save:
        assessment.save()
    details = {"from": previous, "to": to}
    if reanalysis:
        details["reanalysis"] = True
    if reason:
        details["reason"] = reason[:500]
    audit.record(
        action=f"assessment.{to}",
        actor=actor,
        organization_id=assessment.organization_id,
        target=assessment,
        details=details,
    )
    if to in (Status.COMPLETED, Status.FAILED):
        webhook_events.emit(organization_id=assessment.organization_id, event_type=f"assessment.{to}", obj=assessment)
    if to == Status.QUEUED:
        PipelineStage.objects.filter(assessment=assessment).update(
            status=PipelineStage.Status.PENDING, started_at=None, finished_at=None, duration_ms=None, error=""
        )
        enqueue(assessment)
    elif to in (Status.COMPLETED, Status.FAILED):
        # The requester (and, for a high-risk result, the clinicians) are told by a task after commit.
        from notifications import publish

        publish.assessment_finished(assessment)
    elif to == Status.CANCELLED:
        # Stages that never ran (or were cut short) are skipped, not left "pending" or "running" forever.
        PipelineStage.objects.filter(
            assessment=assessment, status__in=[PipelineStage.Status.PENDING, PipelineStage.Status.RUNNING]
        ).update(status=PipelineStage.Status.SKIPPED, finished_at=now)
    return assessment


def cancel_assessment(*, actor, assessment: Assessment) -> Assessment:
    """A re-analysis is not cancelled: cancelled is final, and would bury the versions the assessment already
    has under a "cancelled" status. It runs to its end (or fails, and can be retried)."""
    with transaction.atomic():
        locked = lock(assessment.pk)
        in_progress = locked.status in (Status.QUEUED, Status.RUNNING)
        if in_progress and ResultVersion.objects.filter(assessment=locked).exists():
            raise TransitionRefused("A re-analysis cannot be cancelled; the earlier result versions stay as they are.")
        return apply_transition(locked, Status.CANCELLED, actor=actor)


def retry_assessment(*, actor, assessment: Assessment) -> Assessment:
    """Queue a failed assessment again. Decided under the row lock, not on ``assessment`` as the caller read
    it: a retry racing another retry (and the worker's claim of it) finds the row running and changes nothing."""
    try:
        return transition(assessment.pk, Status.QUEUED, actor=actor, expected_from=Status.FAILED)
    except TransitionRefused as refusal:
        raise TransitionRefused(f"Only a failed assessment can be retried. {refusal.messages[0]}") from None


def reap_stuck(*, now=None) -> dict:
    """Requeue a running assessment past its deadline once; fail it the second time. Re-publish queued
    assessments whose message may have been lost (broker down when they were created). Returns the counts:
    ``republished`` are those the broker took, ``unpublished`` those it refused again (still queued, tried at
    the next run)."""
    now = now or timezone.now()
    requeued = failed = republished = unpublished = 0
    stuck = Assessment.objects.filter(status=Status.RUNNING, deadline_at__lt=now).values_list("pk", "reaper_requeues")
    for pk, requeues in list(stuck):
        try:
            if requeues < 1:
                transition(
                    pk, Status.QUEUED, actor="system:reaper", expected_from=Status.RUNNING,
                    reaper_requeues=requeues + 1,
                )
                requeued += 1
            else:
                transition(
                    pk,
                    Status.FAILED,
                    actor="system:reaper",
                    expected_from=Status.RUNNING,
                    reason="The analysis stopped responding twice and was stopped. Retry it, or contact support "
                    "if it keeps failing.",
                )
                failed += 1
        except TransitionRefused:
            continue  # it moved on between the query and the lock
    stale = now - timedelta(seconds=settings.ASSESSMENT_REPUBLISH_AFTER_SECONDS)
    lost = Assessment.objects.filter(status=Status.QUEUED, queued_at__lt=stale).exclude(last_enqueued_at__gte=stale)
    for pk, organization_id, modality in lost.values_list("pk", "organization_id", "modality")[:500]:
        if publish(str(pk), organization_id, modality):
            republished += 1
        else:
            unpublished += 1
    return {"requeued": requeued, "failed": failed, "republished": republished, "unpublished": unpublished}
