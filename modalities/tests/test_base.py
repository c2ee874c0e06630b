"""The analyzer interface's own rules: how a measured value is flagged against its catalogue entry."""

import pytest

from modalities.base import BiomarkerSpec


def spec(**limits):
    return BiomarkerSpec("x", "X", "test", "unit", "source", **limits)


@pytest.mark.parametrize(
    ("limits", "value", "flag"),
    [
        ({"reference_low": 1, "reference_high": 2}, 1.5, "normal"),
        ({"reference_low": 1, "reference_high": 2}, 0.9, "low"),
        ({"reference_low": 1, "reference_high": 2}, 2.1, "high"),
        ({"reference_low": 1, "reference_high": 2}, 2.0, "normal"),  # the range includes its ends
        ({"reference_high": 2, "critical_high": 5}, 5.0, "critical"),
        ({"reference_low": 1, "critical_low": 0.5}, 0.4, "critical"),
        ({"reference_high": 0}, 0, "normal"),
        ({}, 123.0, "none"),  # no range: nothing to compare with, so never "normal"
    ],
)
def test_flags(limits, value, flag):
    assert spec(**limits).flag(value) == flag
