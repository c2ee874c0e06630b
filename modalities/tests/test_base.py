"""The analyzer interface's own rules: how a measured value is flagged against its catalogue entry."""

import pytest

from modalities.base import AnalysisError, AnalysisResult, BiomarkerSpec
from modalities.results import RiskBands, Score, ScoreScale


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
        # The PCE risk is flagged in the guideline's own categories, the same words as the risk level.
        ("cvd_risk", "pce_ascvd_10y", 4.9, "normal"),  # low < 5%
        ("cvd_risk", "pce_ascvd_10y", 5.0, "borderline"),  # borderline 5 to < 7.5%
        ("cvd_risk", "pce_ascvd_10y", 7.4, "borderline"),
        ("cvd_risk", "pce_ascvd_10y", 7.5, "intermediate"),  # intermediate 7.5 to < 20%
        ("cvd_risk", "pce_ascvd_10y", 9.9, "intermediate"),  # was "high" beside "intermediate risk"
        ("cvd_risk", "pce_ascvd_10y", 20, "high"),  # high >= 20%
        ("cvd_risk", "pce_ascvd_10y", 26.7, "high"),  # was "critical": no guideline says so
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

    assert registry.get(modality).modality.catalogue[biomarker].flag(value) == flag


@pytest.mark.parametrize("qtc", [449.9, 450, 470, 470.1, 500, 500.1])
def test_qtc_flag_agrees_with_the_ecg_risk_rule(qtc):
    from modalities import registry
    from modalities.cardiology.interpret import findings

    found = findings(heart_rate=70, nrmssd=None, rr_count=10, pr=None, qrs=None, qtc_fridericia=qtc, sex="male")
    points = sum(f["points"] for f in found)
    flag = registry.get("cardiology").modality.catalogue["qtc_fridericia"].flag(qtc)
    assert (flag == "normal") == (points == 0)
    assert (flag == "critical") == (points == 5)


@pytest.mark.parametrize("tds", [4.7, 4.75, 5.45, 5.5])
def test_tds_flag_agrees_with_stolz_bands(tds):
    from modalities import registry
    from modalities.dermatology.rule import tds_category

    flag = registry.get("dermatology").modality.catalogue["total_dermoscopy_score"].flag(tds)
    assert {"benign": "normal", "suspicious": "intermediate", "highly suspicious": "high"}[tds_category(tds)] == flag


BANDS = RiskBands(((5.0, "borderline"), (7.5, "intermediate"), (20.0, "high")), source="test")


@pytest.mark.parametrize(
    ("value", "level"),
    [(0, "low"), (4.99, "low"), (5, "borderline"), (7.49, "borderline"), (7.5, "intermediate"), (20, "high")],
)
def test_risk_bands_start_at_their_bound(value, level):
    assert BANDS.level(value) == level


def test_a_band_named_above_starts_strictly_above_its_bound():
    stolz = RiskBands(((4.75, "intermediate"), (5.45, "high")), source="test", above=frozenset({"high"}))
    assert [stolz.level(v) for v in (4.7, 4.75, 5.45, 5.5)] == ["low", "intermediate", "intermediate", "high"]
    assert stolz.describe("points") == ("< 4.75 points low, >= 4.75 to <= 5.45 points intermediate, > 5.45 points high")


def test_risk_bands_must_rise_through_the_vocabulary():
    with pytest.raises(ValueError, match="rise"):
        RiskBands(((5, "high"), (7.5, "borderline")), source="test")
    with pytest.raises(ValueError, match="rise"):
        RiskBands(((5, "critical"),), source="test")


def test_a_score_must_say_its_unit_and_own_its_rule():
    with pytest.raises(ValueError, match="unit"):
        ScoreScale(key="k", label="Something", unit="", minimum=0, maximum=1, source="s")
    with pytest.raises(ValueError, match="MediLens"):
        ScoreScale(key="k", label="Triage points", unit="points", minimum=0, maximum=9, source="s", own_rule=True)
    ScoreScale(
        key="k", label="Triage points (MediLens rule)", unit="points", minimum=0, maximum=9, source="s", own_rule=True
    )


def test_a_score_biomarker_takes_no_limits():
    with pytest.raises(ValueError, match="bands"):
        spec(reference_high=7.5, bands=BANDS)


RISK = ScoreScale(key="risk", label="Risk", unit="%", minimum=0, maximum=100, source="s", bands=BANDS, biomarker="x")
CATALOGUE = {"x": spec(bands=BANDS)}


@pytest.mark.parametrize(
    ("value", "level", "allowed"),
    [
        (9.9, "intermediate", True),
        (9.9, "high", True),  # raised by another finding: the number's own category is lower, never higher
        (9.9, "borderline", False),  # the flag would read intermediate beside "borderline risk"
        (26.7, "intermediate", False),
    ],
)
def test_the_headline_biomarker_is_never_flagged_above_the_risk_level(value, level, allowed):
    result = AnalysisResult("m", score=Score(value, RISK), risk_level=level, biomarkers={"x": value})
    if allowed:
        result.check(CATALOGUE)
    else:
        with pytest.raises(AnalysisError, match="flagged"):
            result.check(CATALOGUE)


@pytest.mark.parametrize("value", [-0.1, 100.1, float("nan")])
def test_a_score_outside_its_scale_is_refused(value):
    with pytest.raises(AnalysisError, match="outside"):
        AnalysisResult("m", score=Score(value, RISK), risk_level="low").check({})


def test_an_unknown_risk_level_is_refused():
    with pytest.raises(AnalysisError, match="risk level"):
        AnalysisResult("m", risk_level="critical").check({})


def test_the_stored_document_says_what_the_score_is_and_drops_empty_contributions():
    from modalities.results import Contribution, NotApplicable

    result = AnalysisResult(
        "m",
        score=Score(9.94, RISK),
        risk_level="intermediate",
        not_applicable=[NotApplicable("prevent", "PREVENT", "needs eGFR")],
        contributions=[Contribution("a", "A", 2.04), Contribution("b", "B", 0.04)],
    )
    document = result.document()
    assert document["schema_version"] == 2
    assert document["score"]["value"] == 9.9 and document["score"]["unit"] == "%"
    assert (
        document["score"]["bands"]
        == "< 5 % low, >= 5 to < 7.5 % borderline, >= 7.5 to < 20 % intermediate, >= 20 % high"
    )
    assert document["not_applicable"] == [{"name": "prevent", "label": "PREVENT", "reason": "needs eGFR"}]
    assert [row["factor"] for row in result.contributions_json()] == ["a"]  # 0.04 rounds to 0.0: not shown
    assert result.risk_score == 9.9
