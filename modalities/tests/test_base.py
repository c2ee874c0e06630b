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
        ({"reference_high": 2, "critical_high": 5}, 5.0, "high"),  # a limit is on the normal side by default
        ({"reference_high": 2, "critical_high": 5}, 5.01, "critical"),
        ({"reference_high": 2, "abnormal_at": frozenset({"reference_high"})}, 2.0, "high"),
        ({"reference_low": 1, "abnormal_at": frozenset({"reference_low"})}, 1.0, "low"),
        ({"critical_high": 5, "abnormal_at": frozenset({"critical_high"})}, 5.0, "critical"),
        ({"reference_low": 1, "critical_low": 0.5}, 0.5, "low"),
        ({"reference_low": 1, "critical_low": 0.5}, 0.4, "critical"),
        ({"reference_high": 0}, 0, "normal"),
        ({}, 123.0, "none"),  # no range: nothing to compare with, so never "normal"
    ],
)
def test_flags(limits, value, flag):
    assert spec(**limits).flag(value) == flag


def test_abnormal_at_names_only_real_limits():
    with pytest.raises(ValueError, match="reference_hi"):
        spec(reference_high=1, abnormal_at=frozenset({"reference_hi"}))


# Values that land exactly on a catalogue limit (a keyed-in 120 mmHg, a TDS of 4.75) are flagged on the side
# the cited source puts them, and never contradict the risk rule that cites the same source.
@pytest.mark.parametrize(
    ("modality", "biomarker", "value", "flag"),
    [
        ("cvd_risk", "systolic_bp", 119, "normal"),
        ("cvd_risk", "systolic_bp", 120, "high"),  # ACC/AHA 2017: "elevated" is 120-129
        ("cvd_risk", "systolic_bp", 180, "high"),  # hypertensive crisis is > 180
        ("cvd_risk", "systolic_bp", 181, "critical"),
        ("cvd_risk", "systolic_bp", 90, "normal"),
        ("cvd_risk", "total_cholesterol", 200, "high"),  # ATP III: borderline high 200-239
        ("cvd_risk", "non_hdl_cholesterol", 130, "high"),
        ("cvd_risk", "hdl_cholesterol", 40, "normal"),  # ATP III: low is < 40
        ("cvd_risk", "bmi", 25.0, "high"),  # WHO: overweight 25-29.9
        ("cvd_risk", "bmi", 18.5, "normal"),
        ("cvd_risk", "egfr", 60, "normal"),  # KDIGO G3a is 45-59
        ("cvd_risk", "egfr", 15, "low"),  # G5 is < 15
        ("cvd_risk", "pce_ascvd_10y", 7.4, "normal"),
        ("cvd_risk", "pce_ascvd_10y", 7.5, "high"),  # intermediate 7.5-19.9%
        ("cvd_risk", "pce_ascvd_10y", 20, "critical"),  # high >= 20%
        ("cardiology", "heart_rate", 100, "normal"),  # tachycardia is > 100
        ("cardiology", "heart_rate", 60, "normal"),
        ("cardiology", "qrs_duration", 110, "high"),  # 110-119 incomplete block
        ("cardiology", "qtc_fridericia", 449, "normal"),
        ("cardiology", "qtc_fridericia", 450, "high"),  # prolonged >= 450 (men)
        ("cardiology", "qtc_fridericia", 500, "high"),  # critical is > 500
        ("cardiology", "qtc_fridericia", 501, "critical"),
        ("cardiology", "qtc_bazett", 390, "low"),  # short <= 390
        ("cardiology", "pr_interval", 200, "normal"),  # first-degree AV block is > 200
        ("dermatology", "total_dermoscopy_score", 4.7, "normal"),
        ("dermatology", "total_dermoscopy_score", 4.75, "intermediate"),  # Stolz: suspicious 4.75-5.45
        ("dermatology", "total_dermoscopy_score", 5.45, "intermediate"),
        ("dermatology", "total_dermoscopy_score", 5.5, "high"),  # > 5.45 highly suspicious
        ("speech", "jitter_local", 1.04, "normal"),  # the MDVP norm is "< 1.04" and the rule counts "> 1.04"
    ],
)
def test_catalogue_limits_fall_where_their_sources_put_them(modality, biomarker, value, flag):
    from modalities import registry

    assert registry.get(modality).catalogue[biomarker].flag(value) == flag


@pytest.mark.parametrize("qtc", [449.9, 450, 470, 470.1, 500, 500.1])
def test_qtc_flag_agrees_with_the_ecg_risk_rule(qtc):
    from modalities import registry
    from modalities.cardiology.interpret import findings

    found = findings(heart_rate=70, nrmssd=None, rr_count=10, pr=None, qrs=None, qtc_fridericia=qtc, sex="male")
    points = sum(f["points"] for f in found)
    flag = registry.get("cardiology").catalogue["qtc_fridericia"].flag(qtc)
    assert (flag == "normal") == (points == 0)
    assert (flag == "critical") == (points == 5)


@pytest.mark.parametrize("tds", [4.7, 4.75, 5.45, 5.5])
def test_tds_flag_agrees_with_stolz_bands(tds):
    from modalities import registry
    from modalities.dermatology.rule import tds_category

    flag = registry.get("dermatology").catalogue["total_dermoscopy_score"].flag(tds)
    assert {"benign": "normal", "suspicious": "intermediate", "highly suspicious": "high"}[tds_category(tds)] == flag
