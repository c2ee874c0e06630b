"""Fixtures of the fault tests (assessments/tests/faults.py), for the test modules of this package."""

from .faults import isolated_publishing, isolated_redis, isolated_workers  # noqa: F401
