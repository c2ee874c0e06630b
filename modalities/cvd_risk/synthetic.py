"""The demo's risk-factor panels: one per risk category and one where PREVENT leads (age 35), so the demo and
the consistency tests see every headline the analyzer can give."""

from __future__ import annotations

from modalities.base import DemoCase

BASE = {"sex": "male", "age": 55, "total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120,
        "egfr": 90, "smoker": False, "bp_treated": False, "diabetic": False, "statin": False}  # fmt: skip
VARIANTS = [
    {"sex": "female", "age": 45, "total_cholesterol": 180, "hdl_cholesterol": 60, "systolic_bp": 115},
    {},  # Goff 2014's worked example: 5.4%, borderline
    {"age": 62, "systolic_bp": 138, "total_cholesterol": 230, "hdl_cholesterol": 42},
    {"age": 68, "smoker": True, "systolic_bp": 158, "bp_treated": True},
    {"age": 35, "smoker": True, "systolic_bp": 142},
]


def demo_cases() -> list[DemoCase]:
    return [DemoCase(inputs={**BASE, **variant}) for variant in VARIANTS]
