"""A transactional test's closing flush that survives the session's Celery worker.

A ``django_db(transaction=True)`` test ends with ``manage.py flush``: one TRUNCATE of every table, which takes
each table's ACCESS EXCLUSIVE lock in turn. The session's worker (conftest.celery_worker) may still be saving
an assessment that test published: its transaction holds the rows it wrote and then asks for another table's
lock, which the TRUNCATE already holds while it waits for the worker's. PostgreSQL breaks that deadlock by
cancelling one side; when the TRUNCATE is the one cancelled, Django raises "couldn't be flushed" and the test
errors although it passed (seen once in CI, in random order).

The flush runs in one transaction, so a cancelled flush changed nothing: it is tried again once the worker's
transaction has ended. Only lock conflicts are retried; any other failure is raised at once.
"""

from __future__ import annotations

import time

from django.core.management.base import CommandError
from django.test import TransactionTestCase

# SQLSTATE: deadlock_detected, lock_not_available, serialization_failure.
LOCK_CONFLICTS = {"40P01", "55P03", "40001"}
ATTEMPTS = 5


def is_lock_conflict(error: BaseException | None) -> bool:
    while error is not None:
        if getattr(error, "sqlstate", None) in LOCK_CONFLICTS or getattr(error, "pgcode", None) in LOCK_CONFLICTS:
            return True
        error = error.__cause__ or error.__context__
    return False


def retrying(teardown, *, attempts: int = ATTEMPTS, pause: float = 0.5):
    def fixture_teardown(self):
        for attempt in range(1, attempts + 1):
            try:
                return teardown(self)
            except CommandError as error:
                if attempt == attempts or not is_lock_conflict(error):
                    raise
                time.sleep(pause * attempt)

    fixture_teardown.retries_lock_conflicts = True
    return fixture_teardown


def install() -> None:
    teardown = TransactionTestCase._fixture_teardown
    if not getattr(teardown, "retries_lock_conflicts", False):
        TransactionTestCase._fixture_teardown = retrying(teardown)
