"""A write that Row-Level Security refuses is answered as a missing object (404), never a 500.

It only happens when a bug let a request aim at another organization's row past the application's own
guard: the database said no, and the answer must not tell that the row exists. The transaction is
aborted, so it is marked for rollback."""

import logging

from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

INSUFFICIENT_PRIVILEGE = "42501"  # row-level security violation (and any other refused privilege)


def is_refusal(error: BaseException) -> bool:
    cause = getattr(error, "__cause__", None)
    return isinstance(error, DatabaseError) and getattr(cause, "sqlstate", None) == INSUFFICIENT_PRIVILEGE


def settle(error: BaseException) -> None:
    """Roll the refused transaction back and log the refusal (the table name only: no row content)."""
    logger.warning("database refused a write outside the request's organization: %s", type(error.__cause__).__name__)
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)
