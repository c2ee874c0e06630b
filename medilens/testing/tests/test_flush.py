"""The closing flush of a transactional test is tried again after a lock conflict, and only then."""

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import OperationalError

from medilens.testing.flush import is_lock_conflict, retrying


def _flush_error(cause: Exception) -> CommandError:
    # As Django raises it: CommandError from the database error, itself from the driver's.
    try:
        try:
            raise OperationalError(str(cause)) from cause
        except OperationalError as wrapped:
            raise CommandError("Database test_x couldn't be flushed.") from wrapped
    except CommandError as error:
        return error


class FlakyTeardown:
    def __init__(self, failures: list[Exception]):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, test_case):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "flushed"


def test_a_deadlock_is_recognised_through_djangos_wrapping():
    assert is_lock_conflict(_flush_error(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert is_lock_conflict(_flush_error(psycopg.errors.LockNotAvailable("could not obtain lock")))
    assert not is_lock_conflict(_flush_error(psycopg.errors.UndefinedTable('relation "x" does not exist')))
    assert not is_lock_conflict(CommandError("no cause"))


def test_a_flush_cancelled_by_a_deadlock_is_tried_again():
    teardown = FlakyTeardown([_flush_error(psycopg.errors.DeadlockDetected("deadlock detected"))] * 2)

    assert retrying(teardown, pause=0)(object()) == "flushed"
    assert teardown.calls == 3


def test_any_other_flush_failure_is_raised_at_once():
    teardown = FlakyTeardown([_flush_error(psycopg.errors.UndefinedTable('relation "x" does not exist'))])

    with pytest.raises(CommandError):
        retrying(teardown, pause=0)(object())
    assert teardown.calls == 1


def test_a_conflict_that_outlasts_the_attempts_is_raised():
    teardown = FlakyTeardown([_flush_error(psycopg.errors.DeadlockDetected("deadlock detected"))] * 3)

    with pytest.raises(CommandError):
        retrying(teardown, attempts=3, pause=0)(object())
    assert teardown.calls == 3


def test_the_suite_runs_with_the_retrying_flush():
    from django.test import TransactionTestCase

    assert getattr(TransactionTestCase._fixture_teardown, "retries_lock_conflicts", False)
