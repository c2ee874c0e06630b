"""Tests of the cardiovascular risk core against the papers' worked examples.

Expected values come from /work/shared/reference/cvd-equations.md: Goff 2014 (PCE), Khan 2024
supplement Table S25 (PREVENT) and Inker 2021 (CKD-EPI 2021). Tolerance 0.1 percentage point.
"""

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from modalities.cvd_risk.equations import (
    egfr_ckd_epi_2021,
    mg_dl_to_mmol_cholesterol,
    mmol_to_mg_dl_cholesterol,
    pooled_cohort_ascvd_10y,
    prevent_10y,
    umol_to_mg_dl_creatinine,
)
from modalities.cvd_risk.rule import METHOD_VERSION, CvdAssessment, RiskPanel, assess, risk_category
from modalities.cvd_risk.values import NotApplicable

TOLERANCE = 0.1  # percentage points


# Goff 2014 worked example: age 55, TC 213, HDL 50, untreated SBP 120, nonsmoker, no diabetes.
GOFF_EXAMPLE = {
    "age": 55,
    "total_cholesterol": 213,
    "hdl_cholesterol": 50,
    "systolic_bp": 120,
    "bp_treated": False,
    "smoker": False,
    "diabetic": False,
}

# Khan 2024 supplement example (Table S25).
PREVENT_EXAMPLE = {
    "sex": "female",
    "age": 50,
    "total_cholesterol": 200,
    "hdl_cholesterol": 45,
    "systolic_bp": 160,
    "bp_treated": True,
    "diabetic": True,
    "smoker": False,
    "egfr": 90,
    "statin": False,
    "bmi": 35,
}


def make_panel(**overrides) -> RiskPanel:
    values = {
        "sex": "male",
        "age": 55,
        "total_cholesterol_mg_dl": 213,
        "hdl_cholesterol_mg_dl": 50,
        "systolic_bp": 120,
        "bp_treated": False,
        "diabetic": False,
        "smoker": False,
        "statin": False,
        "egfr": 90,
        "race": "white",
    }
    return RiskPanel(**(values | overrides))


def pce(**overrides) -> float:
    return pooled_cohort_ascvd_10y(**({"sex": "male", "race": "white"} | GOFF_EXAMPLE | overrides))


def prevent(**overrides) -> dict[str, float]:
    return prevent_10y(**(PREVENT_EXAMPLE | overrides))


# --- Pooled Cohort Equations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "race", "expected"),
    [
        ("female", "white", 2.1),
        ("female", "african_american", 3.0),
        ("male", "white", 5.3),
        ("male", "african_american", 6.1),
    ],
)
def test_pce_reproduces_goff_worked_example(sex, race, expected):
    assert pce(sex=sex, race=race) == pytest.approx(expected, abs=TOLERANCE)


# Regression values for the terms the worked example leaves at zero (treated SBP, smoking, diabetes),
# computed by an independent script straight from the reference file's coefficient table: they guard
# against transcription errors in the coefficients, at a tighter tolerance than the clinical one.
@pytest.mark.parametrize(
    ("sex", "race", "expected"),
    [
        ("female", "white", 34.6122),
        ("female", "african_american", 56.2030),
        ("male", "white", 50.5685),
        ("male", "african_american", 54.6171),
    ],
)
def test_pce_all_terms_regression(sex, race, expected):
    risk = pce(
        sex=sex,
        race=race,
        age=62,
        total_cholesterol=250,
        hdl_cholesterol=38,
        systolic_bp=148,
        bp_treated=True,
        smoker=True,
        diabetic=True,
    )
    assert risk == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("sex", ["female", "male"])
@pytest.mark.parametrize("race", [None, "other", "asian", "Hispanic"])
def test_pce_other_or_missing_race_uses_white_equations(sex, race):
    assert pce(sex=sex, race=race) == pce(sex=sex, race="white")


def test_pce_african_american_differs_from_white():
    assert pce(race="african_american") != pytest.approx(pce(race="white"), abs=0.5)


@pytest.mark.parametrize("sex", ["female", "male"])
@pytest.mark.parametrize("race", ["white", "african_american"])
def test_pce_treated_and_untreated_sbp_differ(sex, race):
    untreated = pce(sex=sex, race=race, systolic_bp=150, bp_treated=False)
    treated = pce(sex=sex, race=race, systolic_bp=150, bp_treated=True)
    assert treated > untreated + 0.1


def test_pce_risk_rises_with_smoking_diabetes_and_sbp():
    base = pce()
    assert pce(smoker=True) > base
    assert pce(diabetic=True) > base
    assert pce(systolic_bp=160) > base


@pytest.mark.parametrize("age", [39, 80])
def test_pce_outside_age_range_is_not_applicable(age):
    with pytest.raises(NotApplicable) as excinfo:
        pce(age=age)
    reason = excinfo.value.reason
    assert reason == str(excinfo.value)
    assert reason == f"Pooled Cohort Equations are validated for ages 40-79; patient is {age}."


@pytest.mark.parametrize("age", [40, 79])
def test_pce_age_bounds_are_inclusive(age):
    assert 0 < pce(age=age) < 100


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("total_cholesterol", 129, "total cholesterol 130-320 mg/dL; patient's is 129 mg/dL"),
        ("total_cholesterol", 321, "total cholesterol 130-320 mg/dL"),
        ("hdl_cholesterol", 19, "HDL cholesterol 20-100 mg/dL"),
        ("hdl_cholesterol", 101, "HDL cholesterol 20-100 mg/dL"),
        ("systolic_bp", 89, "systolic blood pressure 90-200 mmHg"),
        ("systolic_bp", 201, "systolic blood pressure 90-200 mmHg"),
    ],
)
def test_pce_lab_values_outside_range_are_not_applicable(field, value, fragment):
    with pytest.raises(NotApplicable, match=re.escape(fragment)):
        pce(**{field: value})


def test_pce_reports_every_out_of_range_value():
    with pytest.raises(NotApplicable) as excinfo:
        pce(age=35, total_cholesterol=400)
    assert "ages 40-79" in excinfo.value.reason
    assert "total cholesterol" in excinfo.value.reason


# --- PREVENT ----------------------------------------------------------------------------------------


def test_prevent_reproduces_khan_worked_example():
    result = prevent()
    assert set(result) == {"total_cvd", "ascvd"}
    assert result["total_cvd"] == pytest.approx(14.7, abs=TOLERANCE)
    assert result["ascvd"] == pytest.approx(9.2, abs=TOLERANCE)


HIGH_RISK_PROFILE = {
    "age": 68,
    "total_cholesterol": 240,
    "hdl_cholesterol": 40,
    "systolic_bp": 150,
    "bp_treated": True,
    "diabetic": True,
    "smoker": True,
    "egfr": 45,
    "statin": True,
}
LOW_RISK_PROFILE = {
    "age": 42,
    "total_cholesterol": 180,
    "hdl_cholesterol": 60,
    "systolic_bp": 100,
    "bp_treated": False,
    "diabetic": False,
    "smoker": True,
    "egfr": 110,
    "statin": False,
}


# Regression values covering every PREVENT term (eGFR below 60, statin, SBP below 110, interactions),
# computed by an independent script straight from the reference file's coefficient table.
@pytest.mark.parametrize(
    ("sex", "profile", "total_cvd", "ascvd"),
    [
        ("female", HIGH_RISK_PROFILE, 41.8186, 27.4616),
        ("female", LOW_RISK_PROFILE, 1.2802, 0.7294),
        ("male", HIGH_RISK_PROFILE, 44.2517, 30.2883),
        ("male", LOW_RISK_PROFILE, 1.9652, 1.1725),
    ],
)
def test_prevent_all_terms_regression(sex, profile, total_cvd, ascvd):
    result = prevent_10y(sex=sex, **profile)
    assert result["total_cvd"] == pytest.approx(total_cvd, abs=1e-3)
    assert result["ascvd"] == pytest.approx(ascvd, abs=1e-3)


def test_prevent_bmi_is_range_checked_but_not_a_term():
    assert prevent(bmi=None) == prevent(bmi=22) == prevent(bmi=35)
    with pytest.raises(NotApplicable, match=re.escape("BMI 18.5-39.9 kg/m2")):
        prevent(bmi=40)
    with pytest.raises(NotApplicable, match="BMI"):
        prevent(bmi=18)


def test_prevent_treated_and_untreated_sbp_differ():
    treated = prevent(bp_treated=True)
    untreated = prevent(bp_treated=False)
    assert treated["total_cvd"] != pytest.approx(untreated["total_cvd"], abs=0.1)
    assert treated["ascvd"] != pytest.approx(untreated["ascvd"], abs=0.1)


def test_prevent_male_equations_differ_from_female():
    assert prevent(sex="male") != prevent(sex="female")


def test_prevent_statin_and_low_egfr_change_risk():
    assert prevent(statin=True) != prevent(statin=False)
    assert prevent(egfr=40)["total_cvd"] > prevent(egfr=90)["total_cvd"]


@pytest.mark.parametrize("age", [29, 80])
def test_prevent_outside_age_range_is_not_applicable(age):
    with pytest.raises(NotApplicable) as excinfo:
        prevent(age=age)
    assert excinfo.value.reason == f"PREVENT equations are validated for ages 30-79; patient is {age}."


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("total_cholesterol", 321, "total cholesterol 130-320 mg/dL"),
        ("hdl_cholesterol", 19, "HDL cholesterol 20-100 mg/dL"),
        ("systolic_bp", 181, "systolic blood pressure 90-180 mmHg"),
        ("systolic_bp", 89, "systolic blood pressure 90-180 mmHg"),
        ("egfr", 14, "eGFR 15-140"),
        ("egfr", 141, "eGFR 15-140"),
    ],
)
def test_prevent_values_outside_range_are_not_applicable(field, value, fragment):
    with pytest.raises(NotApplicable, match=re.escape(fragment)):
        prevent(**{field: value})


# --- CKD-EPI 2021 ---------------------------------------------------------------------------------


def test_ckd_epi_reproduces_inker_worked_example():
    assert egfr_ckd_epi_2021(sex="male", age=60, creatinine=1.4) == pytest.approx(57.5, abs=0.1)


@pytest.mark.parametrize(
    ("sex", "age", "creatinine", "expected"),
    [
        # Hand-computed from Inker 2021: 142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.2 x 0.9938^age [x 1.012].
        ("female", 50, 0.6, 109.283),  # below k = 0.7: a = -0.241 branch
        ("female", 50, 1.2, 55.147),  # above k: -1.200 branch
        ("male", 40, 0.7, 119.457),  # below k = 0.9: a = -0.302 branch
        ("male", 40, 1.3, 71.221),  # above k
    ],
)
def test_ckd_epi_both_branches_for_both_sexes(sex, age, creatinine, expected):
    assert egfr_ckd_epi_2021(sex=sex, age=age, creatinine=creatinine) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("sex", "kappa", "sex_factor"), [("female", 0.7, 1.012), ("male", 0.9, 1.0)])
def test_ckd_epi_branches_meet_at_kappa(sex, kappa, sex_factor):
    at_kappa = egfr_ckd_epi_2021(sex=sex, age=45, creatinine=kappa)
    assert at_kappa == pytest.approx(142 * 0.9938**45 * sex_factor)
    assert egfr_ckd_epi_2021(sex=sex, age=45, creatinine=kappa - 1e-9) == pytest.approx(at_kappa)
    assert egfr_ckd_epi_2021(sex=sex, age=45, creatinine=kappa + 1e-9) == pytest.approx(at_kappa)


def test_ckd_epi_is_for_adults():
    with pytest.raises(NotApplicable, match="18"):
        egfr_ckd_epi_2021(sex="female", age=16, creatinine=0.6)


@pytest.mark.parametrize("creatinine", [0, -1, float("nan"), "1.0", None])
def test_ckd_epi_rejects_malformed_creatinine(creatinine):
    with pytest.raises(ValueError, match="creatinine"):
        egfr_ckd_epi_2021(sex="male", age=60, creatinine=creatinine)


# --- Units ------------------------------------------------------------------------------------------


def test_cholesterol_conversion_factors():
    assert mg_dl_to_mmol_cholesterol(200) == pytest.approx(5.172)
    assert mmol_to_mg_dl_cholesterol(5.0) == pytest.approx(193.35)


@pytest.mark.parametrize("mg_dl", [130, 213, 320])
def test_cholesterol_round_trip(mg_dl):
    assert mmol_to_mg_dl_cholesterol(mg_dl_to_mmol_cholesterol(mg_dl)) == pytest.approx(mg_dl, rel=1e-4)


@pytest.mark.parametrize("mmol", [1.3, 5.5, 8.0])
def test_cholesterol_round_trip_from_mmol(mmol):
    assert mg_dl_to_mmol_cholesterol(mmol_to_mg_dl_cholesterol(mmol)) == pytest.approx(mmol, rel=1e-4)


def test_creatinine_conversion():
    assert umol_to_mg_dl_creatinine(88.4) == pytest.approx(1.0)
    assert umol_to_mg_dl_creatinine(123.76) == pytest.approx(1.4)


@pytest.mark.parametrize(
    "convert", [mmol_to_mg_dl_cholesterol, mg_dl_to_mmol_cholesterol, umol_to_mg_dl_creatinine]
)
@pytest.mark.parametrize("value", [-1, float("nan"), "5"])
def test_conversions_reject_malformed(convert, value):
    with pytest.raises(ValueError):
        convert(value)


# --- Risk categories ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0, "low"),
        (4.99, "low"),
        (5.0, "borderline"),
        (7.49, "borderline"),
        (7.5, "intermediate"),
        (19.99, "intermediate"),
        (20.0, "high"),
        (100, "high"),
    ],
)
def test_risk_category_boundaries(percent, level):
    assert risk_category(percent) == level


@pytest.mark.parametrize("percent", [-0.1, float("nan"), 100.1, "7.5", None])
def test_risk_category_rejects_malformed(percent):
    with pytest.raises(ValueError):
        risk_category(percent)


# --- Malformed input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("age", -55, "age cannot be negative"),
        ("age", float("nan"), "age must be a finite number"),
        ("age", "55", "age must be a number"),
        ("age", None, "age must be a number"),
        ("total_cholesterol", float("inf"), "total_cholesterol must be a finite number"),
        ("hdl_cholesterol", -50, "hdl_cholesterol cannot be negative"),
        ("systolic_bp", True, "systolic_bp must be a number"),
        ("smoker", "no", "smoker must be True or False"),
        ("bp_treated", 1, "bp_treated must be True or False"),
        ("sex", "unknown", "sex must be 'female' or 'male'"),
        ("sex", None, "sex must be 'female' or 'male'"),
        ("race", 3, "race must be a string or None"),
    ],
)
def test_pce_malformed_values_raise_value_error(field, value, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        pce(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("egfr", -10),
        ("egfr", float("nan")),
        ("egfr", None),
        ("bmi", "35"),
        ("bmi", -1),
        ("statin", None),
        ("sex", "F"),
    ],
)
def test_prevent_malformed_values_raise_value_error(field, value):
    with pytest.raises(ValueError):
        prevent(**{field: value})


def test_malformed_is_not_confused_with_not_applicable():
    # A negative age is malformed even though it is also out of range.
    with pytest.raises(ValueError):
        pce(age=-1)
    assert not issubclass(NotApplicable, ValueError)


def test_decimal_inputs_are_accepted():
    assert pce(total_cholesterol=Decimal("213")) == pytest.approx(pce())


def test_sex_is_case_insensitive():
    assert pce(sex="Female") == pce(sex="female")


# --- assess ----------------------------------------------------------------------------------------


def test_assess_headline_is_pce():
    assessment = assess(make_panel())
    assert isinstance(assessment, CvdAssessment)
    assert assessment.headline_source == "pce_ascvd_10y"
    assert assessment.risk_score == pytest.approx(5.3, abs=TOLERANCE)
    assert assessment.risk_score == assessment.results["pce_ascvd_10y"]
    assert assessment.risk_level == "borderline"
    assert assessment.results["prevent_total_cvd_10y"] is not None
    assert assessment.results["prevent_ascvd_10y"] is not None
    assert assessment.results["egfr"] == 90
    assert assessment.results["egfr_derived"] is False
    assert assessment.not_applicable == {}
    assert assessment.method_version == METHOD_VERSION


def test_assess_prevent_example_matches_function():
    panel = make_panel(
        sex="female",
        age=50,
        total_cholesterol_mg_dl=200,
        hdl_cholesterol_mg_dl=45,
        systolic_bp=160,
        bp_treated=True,
        diabetic=True,
        egfr=90,
        bmi=35,
    )
    results = assess(panel).results
    assert results["prevent_total_cvd_10y"] == pytest.approx(14.7, abs=TOLERANCE)
    assert results["prevent_ascvd_10y"] == pytest.approx(9.2, abs=TOLERANCE)


def test_assess_derives_egfr_from_creatinine():
    assessment = assess(make_panel(age=60, egfr=None, creatinine_mg_dl=1.4))
    assert assessment.results["egfr"] == pytest.approx(57.5, abs=0.1)
    assert assessment.results["egfr_derived"] is True
    assert any("CKD-EPI 2021" in note for note in assessment.notes)
    assert assessment.results["prevent_ascvd_10y"] is not None


def test_assess_given_egfr_wins_over_creatinine():
    assessment = assess(make_panel(egfr=75, creatinine_mg_dl=1.4))
    assert assessment.results["egfr"] == 75
    assert assessment.results["egfr_derived"] is False


def test_assess_without_egfr_or_creatinine_runs_pce_only():
    assessment = assess(make_panel(egfr=None))
    assert assessment.results["pce_ascvd_10y"] is not None
    assert assessment.results["prevent_ascvd_10y"] is None
    assert "eGFR" in assessment.not_applicable["prevent"]


def test_assess_age_39_pce_not_applicable_prevent_runs():
    assessment = assess(make_panel(age=39))
    assert assessment.not_applicable["pce"] == (
        "Pooled Cohort Equations are validated for ages 40-79; patient is 39."
    )
    assert "prevent" not in assessment.not_applicable
    assert assessment.results["pce_ascvd_10y"] is None
    assert assessment.results["prevent_ascvd_10y"] is not None


@pytest.mark.parametrize("age", [29, 80])
def test_assess_age_outside_both_ranges(age):
    assessment = assess(make_panel(age=age))
    assert "ages 40-79" in assessment.not_applicable["pce"]
    assert "ages 30-79" in assessment.not_applicable["prevent"]
    assert assessment.risk_score is None
    assert assessment.risk_level is None
    assert assessment.headline_source is None
    assert assessment.contributions == []
    assert any("No validated" in rec["text"] for rec in assessment.recommendations)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"systolic_bp": 190}, "systolic blood pressure 90-180 mmHg"),
        ({"bmi": 42}, "BMI 18.5-39.9"),
        ({"egfr": 150}, "eGFR 15-140"),
    ],
)
def test_assess_prevent_not_applicable_pce_still_runs(overrides, fragment):
    assessment = assess(make_panel(**overrides))
    assert fragment in assessment.not_applicable["prevent"]
    assert "pce" not in assessment.not_applicable
    assert assessment.headline_source == "pce_ascvd_10y"
    assert assessment.risk_score is not None


def test_assess_headline_falls_back_to_prevent_for_35_year_old():
    assessment = assess(make_panel(age=35, smoker=True))
    assert assessment.results["pce_ascvd_10y"] is None
    assert "ages 40-79; patient is 35" in assessment.not_applicable["pce"]
    assert assessment.headline_source == "prevent_ascvd_10y"
    assert assessment.risk_score == assessment.results["prevent_ascvd_10y"]
    expected = prevent_10y(
        sex="male",
        age=35,
        total_cholesterol=213,
        hdl_cholesterol=50,
        systolic_bp=120,
        bp_treated=False,
        diabetic=False,
        smoker=True,
        egfr=90,
        statin=False,
    )["ascvd"]
    assert assessment.risk_score == pytest.approx(expected)
    assert assessment.risk_level == risk_category(expected)
    assert any("PREVENT" in note for note in assessment.notes)
    # Contributions are computed with the headline (PREVENT) equation.
    smoking = next(c for c in assessment.contributions if c["factor"] == "smoking")
    nonsmoker = prevent_10y(
        sex="male",
        age=35,
        total_cholesterol=213,
        hdl_cholesterol=50,
        systolic_bp=120,
        bp_treated=False,
        diabetic=False,
        smoker=False,
        egfr=90,
        statin=False,
    )["ascvd"]
    assert smoking["risk_with_optimal"] == pytest.approx(nonsmoker)


def test_assess_prior_cvd_makes_both_equations_not_applicable():
    assessment = assess(make_panel(prior_cvd=True, smoker=True))
    for key in ("pce", "prevent"):
        assert "established cardiovascular disease" in assessment.not_applicable[key]
        assert "secondary prevention" in assessment.not_applicable[key]
    assert assessment.risk_score is None
    assert assessment.risk_level is None
    assert assessment.results["pce_ascvd_10y"] is None
    assert assessment.results["prevent_ascvd_10y"] is None
    assert assessment.contributions == []
    texts = " ".join(rec["text"] for rec in assessment.recommendations)
    assert "secondary prevention" in texts
    assert "smoker" in texts


@pytest.mark.parametrize(
    "overrides",
    [
        {"age": -1},
        {"age": float("nan")},
        {"sex": "other"},
        {"total_cholesterol_mg_dl": "213"},
        {"creatinine_mg_dl": 0, "egfr": None},
        {"prior_cvd": None},
        {"bmi": float("nan")},
    ],
)
def test_assess_malformed_panel_raises_value_error(overrides):
    with pytest.raises(ValueError):
        assess(make_panel(**overrides))


def test_assess_rejects_non_panel():
    with pytest.raises(ValueError):
        assess({"sex": "male"})


def test_assess_is_json_friendly():
    data = json.loads(json.dumps(assess(make_panel(smoker=True, bmi=31)).as_dict()))
    assert data["method_version"] == METHOD_VERSION
    assert data["results"]["pce_ascvd_10y"] == pytest.approx(pce(smoker=True))


# --- Contributions --------------------------------------------------------------------------------


def contribution(assessment: CvdAssessment, factor: str) -> dict:
    return next(c for c in assessment.contributions if c["factor"] == factor)


def test_contribution_factors_exclude_diabetes():
    factors = [c["factor"] for c in assess(make_panel(diabetic=True)).contributions]
    assert factors == ["smoking", "systolic_bp", "total_cholesterol", "hdl_cholesterol"]


def test_smoker_contribution_is_risk_minus_risk_as_nonsmoker():
    assessment = assess(make_panel(smoker=True))
    smoking = contribution(assessment, "smoking")
    as_nonsmoker = pce(smoker=False)
    assert smoking["current_value"] is True
    assert smoking["optimal_value"] is False
    assert smoking["risk_with_optimal"] == pytest.approx(as_nonsmoker)
    assert smoking["contribution_points"] > 0
    assert smoking["contribution_points"] == pytest.approx(assessment.risk_score - as_nonsmoker)


def test_nonsmoker_smoking_contribution_is_zero():
    assessment = assess(make_panel(smoker=False))
    smoking = contribution(assessment, "smoking")
    assert smoking["contribution_points"] == 0
    assert smoking["risk_with_optimal"] == assessment.risk_score


def test_untreated_sbp_contribution_uses_120_untreated():
    assessment = assess(make_panel(systolic_bp=150))
    sbp = contribution(assessment, "systolic_bp")
    assert sbp["optimal_value"] == 120
    assert sbp["risk_with_optimal"] == pytest.approx(pce(systolic_bp=120, bp_treated=False))
    assert sbp["contribution_points"] > 0


def test_treated_sbp_contribution_keeps_treatment_flag():
    assessment = assess(make_panel(systolic_bp=150, bp_treated=True))
    sbp = contribution(assessment, "systolic_bp")
    assert sbp["risk_with_optimal"] == pytest.approx(pce(systolic_bp=120, bp_treated=True))
    assert sbp["contribution_points"] == pytest.approx(assessment.risk_score - sbp["risk_with_optimal"])


def test_cholesterol_contributions():
    assessment = assess(make_panel(total_cholesterol_mg_dl=260, hdl_cholesterol_mg_dl=35))
    tc = contribution(assessment, "total_cholesterol")
    hdl = contribution(assessment, "hdl_cholesterol")
    assert tc["risk_with_optimal"] == pytest.approx(pce(total_cholesterol=170, hdl_cholesterol=35))
    assert hdl["risk_with_optimal"] == pytest.approx(pce(total_cholesterol=260, hdl_cholesterol=50))
    assert tc["contribution_points"] > 0
    assert hdl["contribution_points"] > 0


def test_factors_already_optimal_contribute_zero():
    assessment = assess(make_panel(systolic_bp=110, total_cholesterol_mg_dl=160, hdl_cholesterol_mg_dl=60))
    for factor in ("systolic_bp", "total_cholesterol", "hdl_cholesterol"):
        assert contribution(assessment, factor)["contribution_points"] == 0


# --- Recommendations -------------------------------------------------------------------------------


def texts_and_sources(assessment: CvdAssessment) -> tuple[str, str]:
    return (
        " ".join(rec["text"] for rec in assessment.recommendations),
        " ".join(rec["source"] for rec in assessment.recommendations),
    )


def test_every_recommendation_cites_a_source():
    assessment = assess(make_panel(smoker=True, systolic_bp=150, diabetic=True, bmi=32))
    assert assessment.recommendations
    for rec in assessment.recommendations:
        assert set(rec) == {"text", "source"}
        assert rec["text"]
        assert "Guideline" in rec["source"] or "Khan" in rec["source"]


def test_intermediate_risk_recommends_moderate_statin_discussion():
    assessment = assess(make_panel(age=65))
    assert assessment.risk_level == "intermediate"
    texts, sources = texts_and_sources(assessment)
    assert "moderate-intensity statin" in texts
    assert "coronary artery calcium" in texts
    assert "2019 ACC/AHA Primary Prevention Guideline" in sources


def test_high_risk_recommends_high_intensity_statin():
    assessment = assess(make_panel(age=70, smoker=True, systolic_bp=160))
    assert assessment.risk_level == "high"
    texts, _ = texts_and_sources(assessment)
    assert "high intensity" in texts


def test_smoker_gets_cessation_advice():
    texts, sources = texts_and_sources(assess(make_panel(smoker=True)))
    assert "quitting" in texts
    assert "Section 4.5" in sources
    nonsmoker_texts, _ = texts_and_sources(assess(make_panel(smoker=False)))
    assert "quitting" not in nonsmoker_texts


def test_sbp_130_or_more_gets_bp_management():
    texts, sources = texts_and_sources(assess(make_panel(systolic_bp=145)))
    assert "antihypertensive medication" in texts
    assert "2017 ACC/AHA High Blood Pressure Guideline" in sources
    treated_texts, _ = texts_and_sources(assess(make_panel(systolic_bp=135, bp_treated=True)))
    assert "<130 mmHg goal" in treated_texts


def test_diabetes_age_40_to_75_gets_moderate_statin():
    texts, _ = texts_and_sources(assess(make_panel(diabetic=True, age=50)))
    assert "Diabetes, age 40-75: start a moderate-intensity statin" in texts
    older_texts, _ = texts_and_sources(assess(make_panel(diabetic=True, age=77)))
    assert "Diabetes, age 40-75" not in older_texts


def test_diabetes_below_high_risk_gets_one_statin_message():
    assessment = assess(make_panel(diabetic=True, age=50, statin=True))
    assert assessment.risk_level in ("low", "borderline", "intermediate")
    statin_texts = [rec["text"] for rec in assessment.recommendations if "statin" in rec["text"]]
    assert statin_texts == [
        "Diabetes, age 40-75: statin therapy is indicated; continue it and check adherence."
    ]


def test_no_equation_applies_recommends_clinical_assessment():
    texts, _ = texts_and_sources(assess(make_panel(age=85)))
    assert "No validated 10-year risk equation applies" in texts


# --- Purity ----------------------------------------------------------------------------------------


def test_module_does_not_import_django():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, modalities.cvd_risk.equations, modalities.cvd_risk.rule, modalities.cvd_risk.advice; "
        "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_not_applicable_reason_is_plain_text():
    exc = NotApplicable("reason text")
    assert exc.reason == "reason text"
    assert str(exc) == "reason text"
