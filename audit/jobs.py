"""The sealer's periodic jobs, shared by the beat tasks and the management commands: seal what is queued
and checkpoint the chains it touched; write the every-minute checkpoint of all chains.

A refused checkpoint (the database lost what the newest checkpoint recorded) is logged as an error on
every run until someone looks: the refusal names chains and sequences only, never event content.
"""

import logging

from . import bulk_access, checkpoints, sealing

logger = logging.getLogger(__name__)


def seal_and_checkpoint(*, wait: bool = True) -> tuple[sealing.SealRun, checkpoints.Checkpoint | None]:
    """Seal every queued event; when any was sealed, checkpoint the chains that moved. Raises KeyProblem
    and CheckpointUnavailable; a refused checkpoint is logged and returns None."""
    run = sealing.seal_pending(wait=wait, on_batch=bulk_access.observe_quietly)
    if not run.sealed:
        return run, None
    try:
        return run, checkpoints.write_checkpoint(kind="seal", chains=run.chains)
    except checkpoints.CheckpointRefused as refused:
        logger.error("audit checkpoint refused: %s", refused)
        return run, None


def heartbeat() -> checkpoints.Checkpoint | None:
    """A checkpoint of every chain, written even when nothing was sealed, so the newest checkpoint is
    never older than a minute or so (the window in which the newest events could go unnoticed)."""
    try:
        return checkpoints.write_checkpoint(kind="heartbeat")
    except checkpoints.CheckpointRefused as refused:
        logger.error("audit checkpoint refused: %s", refused)
        return None
