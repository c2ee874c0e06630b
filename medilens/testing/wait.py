"""Waiting in tests: poll a condition until it holds or a deadline passes, never a fixed sleep.

``wait_until`` returns the condition's first truthy value, so a test can wait for a row and use it::

    done = wait_until(lambda: finished(assessment_id), timeout=30, message="the assessment never finished")

The deadline is generous on purpose (a loaded 2-core machine runs a worker slowly); the condition is exact,
so a fast machine waits no longer than the work takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.05


def wait_until(condition: Callable[[], T], *, timeout: float, message: str, interval: float = POLL_SECONDS) -> T:
    """Call ``condition`` until it returns something truthy and return that; AssertionError naming ``message``
    (and the last value seen) once ``timeout`` seconds have passed. The condition runs at least once, and once
    more after the deadline, so a slow poll never fails a condition that held in time."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g} s; last value: {value!r})")
        time.sleep(interval)

