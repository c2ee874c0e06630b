"""The risk categories of a 10-year ASCVD risk: 2019 ACC/AHA Primary Prevention Guideline (Arnett 2019,
Section 2.2) and 2018 AHA/ACC Cholesterol Guideline (Grundy 2019): low < 5%, borderline 5 to < 7.5%,
intermediate 7.5 to < 20%, high >= 20%, defined on the Pooled Cohort Equations. Pure Python."""

from __future__ import annotations

from modalities.results import RiskBands

from . import values as check

GUIDELINE_BANDS = RiskBands(
    ((5.0, "borderline"), (7.5, "intermediate"), (20.0, "high")),
    source="2019 ACC/AHA Primary Prevention Guideline (Arnett et al., Circulation 2019;140:e596), Section 2.2",
)
RISK_DECIMALS = 1
RISK_LEVELS = ("low", "borderline", "intermediate", "high")


def risk_category(percent: float) -> str:
    percent = check.number("risk percent", percent)
    if percent > 100:
        raise ValueError(f"risk percent cannot exceed 100, got {percent!r}.")
    return GUIDELINE_BANDS.level(percent)
