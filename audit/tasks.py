"""Beat jobs of the audit trail (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task

from . import jobs
from .checkpoints import CheckpointUnavailable
from .keys import KeyProblem

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=False)
def seal_audit_events() -> int | None:
    """Seal queued events and checkpoint; returns how many were sealed (None when the checkpoint could not
    be written). Runs every few seconds; a run that finds another sealer at work returns at once (the next
    run catches up), so runs never pile up behind a slow one."""
    try:
        run, _ = jobs.seal_and_checkpoint(wait=False)
    except KeyProblem as problem:
        logger.error("audit events are not being sealed: %s", problem)
        return 0
    except CheckpointUnavailable as problem:
        # The events are sealed; the checkpoint is retried by the next run that seals and by the heartbeat.
        logger.error("audit checkpoint not written: %s", problem)
        return None
    return run.sealed


@shared_task(ignore_result=True, acks_late=False)
def write_audit_checkpoint() -> None:
    try:
        jobs.heartbeat()
    except (KeyProblem, CheckpointUnavailable) as problem:
        logger.error("audit checkpoints are not being written: %s", problem)
