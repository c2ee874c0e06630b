"""wait_until: the waiting every test uses instead of a fixed sleep."""

import itertools
import time

import pytest

from medilens.testing.wait import wait_until


def test_wait_until_returns_the_conditions_first_truthy_value():
    calls = itertools.count(1)
    assert wait_until(lambda: (n := next(calls)) >= 3 and f"call {n}", timeout=5, message="never") == "call 3"


def test_wait_until_fails_after_its_deadline_naming_what_it_waited_for():
    began = time.monotonic()
    with pytest.raises(AssertionError, match=r"the row never appeared \(waited 0.2 s; last value: None\)"):
        wait_until(lambda: None, timeout=0.2, message="the row never appeared")
    assert time.monotonic() - began >= 0.2

