"""The cardiovascular-risk equations: pure functions, each cited next to its code and tested against its
paper's worked examples (modalities/tests/test_cvd_risk.py). Pure Python on purpose (no Django import), so the
worker, the API's submission check and management commands share them. The coefficient tables are data, in
``coefficients.json`` beside this module, as the papers print them.

Sources (see /work/shared/reference/cvd-equations.md):
- Pooled Cohort Equations (PCE): Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of
  Cardiovascular Risk. Circulation 2014;129(suppl 2):S49-S73, Appendix 7 Table A.
- PREVENT base model: Khan SS et al. Development and Validation of the American Heart Association's
  PREVENT Equations. Circulation 2024;149:430-449, and its supplement.
- CKD-EPI 2021 creatinine equation: Inker LA et al. N Engl J Med 2021;385:1737-1749.

The equations never extrapolate: a value outside a validated range raises ``NotApplicable`` with the reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from . import values as check
from .values import NotApplicable

PCE_NAME = "Pooled Cohort Equations"
PREVENT_NAME = "PREVENT equations"

_COEFFICIENTS = json.loads((Path(__file__).with_name("coefficients.json")).read_text())

# ---------------------------------------------------------------------------------------------------
# Unit conversions (factors as in the PREVENT supplement, Khan 2024, and CKD-EPI 2021, Inker 2021)
# ---------------------------------------------------------------------------------------------------

CHOLESTEROL_MG_DL_TO_MMOL = 0.02586
CHOLESTEROL_MMOL_TO_MG_DL = 38.67
CREATININE_UMOL_PER_MG_DL = 88.4


def mmol_to_mg_dl_cholesterol(x: float) -> float:
    return check.number("cholesterol (mmol/L)", x) * CHOLESTEROL_MMOL_TO_MG_DL


def mg_dl_to_mmol_cholesterol(x: float) -> float:
    return check.number("cholesterol (mg/dL)", x) * CHOLESTEROL_MG_DL_TO_MMOL


def umol_to_mg_dl_creatinine(x: float) -> float:
    return check.number("creatinine (umol/L)", x) / CREATININE_UMOL_PER_MG_DL


# ---------------------------------------------------------------------------------------------------
# CKD-EPI 2021 creatinine equation, race-free.
# Inker LA et al. N Engl J Med 2021;385:1737-1749.
# eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 (if female)
# ---------------------------------------------------------------------------------------------------

_CKD_EPI_2021: dict[str, dict[str, float]] = _COEFFICIENTS["ckd_epi_2021"]


def egfr_ckd_epi_2021(*, sex: str, age: float, creatinine: float) -> float:
    """eGFR in mL/min/1.73 m2 from serum creatinine in mg/dL (CKD-EPI 2021, Inker 2021)."""
    sex = check.sex(sex)
    age = check.number("age", age)
    creatinine = check.number("creatinine", creatinine, positive=True)
    # The equation was developed and validated in adults; children need a pediatric equation.
    if age < 18:
        raise NotApplicable(
            f"CKD-EPI 2021 is validated for adults aged 18 and over; patient is {check.plain(age)}."
        )
    c = _CKD_EPI_2021[sex]
    ratio = creatinine / c["kappa"]
    return 142.0 * min(ratio, 1.0) ** c["alpha"] * max(ratio, 1.0) ** -1.200 * 0.9938**age * c["sex_factor"]


# ---------------------------------------------------------------------------------------------------
# 2013 ACC/AHA Pooled Cohort Equations, 10-year hard ASCVD risk.
# Goff DC Jr et al. Circulation 2014;129(suppl 2):S49-S73, Appendix 7 Table A. Coefficients as in the
# paper; the African-American female equation, the means and the baseline survivals at the ACC/AHA
# risk spreadsheet's precision (the paper prints them rounded).
# risk = 1 - S0 ^ exp(sum - mean), natural logs, treated/untreated SBP terms mutually exclusive.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PceCoefficients:
    ln_age: float
    ln_age_squared: float
    ln_total_cholesterol: float
    ln_age_x_ln_total_cholesterol: float
    ln_hdl: float
    ln_age_x_ln_hdl: float
    ln_treated_sbp: float
    ln_age_x_ln_treated_sbp: float
    ln_untreated_sbp: float
    ln_age_x_ln_untreated_sbp: float
    smoker: float
    ln_age_x_smoker: float
    diabetes: float
    mean_sum: float
    baseline_survival: float


_PCE: dict[tuple[str, str], _PceCoefficients] = {
    tuple(key.split("/")): _PceCoefficients(**values) for key, values in _COEFFICIENTS["pooled_cohort"].items()
}

# Validated ranges: ages 40-79 (Goff 2014); cholesterol, HDL and SBP bounds as enforced by the ACC/AHA
# ASCVD risk calculator that implements Goff 2014.
PCE_RANGES = {
    "age": (40.0, 79.0),
    "total_cholesterol": (130.0, 320.0),
    "hdl_cholesterol": (20.0, 100.0),
    "systolic_bp": (90.0, 200.0),
}


def pooled_cohort_ascvd_10y(
    *,
    sex: str,
    race: str | None,
    age: float,
    total_cholesterol: float,
    hdl_cholesterol: float,
    systolic_bp: float,
    bp_treated: bool,
    smoker: bool,
    diabetic: bool,
) -> float:
    """10-year hard ASCVD risk in percent by the Pooled Cohort Equations (Goff 2014).

    Cholesterol in mg/dL, SBP in mmHg. ``race`` "african_american" selects the African-American
    equations; any other value, including None, selects the white equations.
    """
    sex = check.sex(sex)
    race = check.race(race)
    age = check.number("age", age)
    total_cholesterol = check.number("total_cholesterol", total_cholesterol)
    hdl_cholesterol = check.number("hdl_cholesterol", hdl_cholesterol)
    systolic_bp = check.number("systolic_bp", systolic_bp)
    bp_treated = check.flag("bp_treated", bp_treated)
    smoker = check.flag("smoker", smoker)
    diabetic = check.flag("diabetic", diabetic)
    check.ranges(
        PCE_NAME,
        [
            ("age", *PCE_RANGES["age"], "", age),
            ("total cholesterol", *PCE_RANGES["total_cholesterol"], "mg/dL", total_cholesterol),
            ("HDL cholesterol", *PCE_RANGES["hdl_cholesterol"], "mg/dL", hdl_cholesterol),
            ("systolic blood pressure", *PCE_RANGES["systolic_bp"], "mmHg", systolic_bp),
        ],
    )

    c = _PCE[(sex, race)]
    ln_age = math.log(age)
    ln_tc = math.log(total_cholesterol)
    ln_hdl = math.log(hdl_cholesterol)
    ln_sbp = math.log(systolic_bp)
    if bp_treated:
        sbp_terms = c.ln_treated_sbp * ln_sbp + c.ln_age_x_ln_treated_sbp * ln_age * ln_sbp
    else:
        sbp_terms = c.ln_untreated_sbp * ln_sbp + c.ln_age_x_ln_untreated_sbp * ln_age * ln_sbp
    individual_sum = (
        c.ln_age * ln_age
        + c.ln_age_squared * ln_age**2
        + c.ln_total_cholesterol * ln_tc
        + c.ln_age_x_ln_total_cholesterol * ln_age * ln_tc
        + c.ln_hdl * ln_hdl
        + c.ln_age_x_ln_hdl * ln_age * ln_hdl
        + sbp_terms
        + c.smoker * smoker
        + c.ln_age_x_smoker * ln_age * smoker
        + c.diabetes * diabetic
    )
    risk = 1.0 - c.baseline_survival ** math.exp(individual_sum - c.mean_sum)
    return 100.0 * risk


# ---------------------------------------------------------------------------------------------------
# AHA PREVENT base model, 10-year total CVD and ASCVD, race-free.
# Khan SS et al. Circulation 2024;149:430-449 and its supplement (coefficient tables).
# Logistic: risk = 1 / (1 + exp(-x)), x = constant + sum of coefficient x (centred, scaled) term.
# ---------------------------------------------------------------------------------------------------

_PREVENT_10Y: dict[str, dict[str, dict[str, float]]] = _COEFFICIENTS["prevent_10y"]

# Input ranges of the PREVENT equations as published with Khan 2024 (the AHA PREVENT calculator):
# age 30-79, total cholesterol 130-320 mg/dL, HDL 20-100 mg/dL, BMI 18.5-39.9 kg/m2, eGFR 15-140.
# SBP: the model itself accepts 90-200 mmHg; we stop at 180 on purpose, because SBP above 180 is severe
# hypertension that needs BP control before any risk estimate (2017 ACC/AHA BP guideline).
PREVENT_RANGES = {
    "age": (30.0, 79.0),
    "total_cholesterol": (130.0, 320.0),
    "hdl_cholesterol": (20.0, 100.0),
    "systolic_bp": (90.0, 180.0),
    "bmi": (18.5, 39.9),
    "egfr": (15.0, 140.0),
}


def _prevent_terms(
    *,
    age: float,
    total_cholesterol: float,
    hdl_cholesterol: float,
    systolic_bp: float,
    bp_treated: bool,
    diabetic: bool,
    smoker: bool,
    egfr: float,
    statin: bool,
) -> dict[str, float]:
    # Transformations from Khan 2024 (supplement): cholesterol in mmol/L, centred and scaled terms,
    # piecewise-linear SBP (knot 110 mmHg) and eGFR (knot 60 mL/min/1.73 m2).
    total_mmol = total_cholesterol * CHOLESTEROL_MG_DL_TO_MMOL
    hdl_mmol = hdl_cholesterol * CHOLESTEROL_MG_DL_TO_MMOL
    terms = {
        "age": (age - 55.0) / 10.0,
        "nonhdl": (total_mmol - hdl_mmol) - 3.5,
        "hdl": (hdl_mmol - 1.3) / 0.3,
        "sbp_lt110": (min(systolic_bp, 110.0) - 110.0) / 20.0,
        "sbp_ge110": (max(systolic_bp, 110.0) - 130.0) / 20.0,
        "dm": float(diabetic),
        "smoking": float(smoker),
        "egfr_lt60": (min(egfr, 60.0) - 60.0) / -15.0,
        "egfr_ge60": (max(egfr, 60.0) - 90.0) / -15.0,
        "bptx": float(bp_treated),
        "statin": float(statin),
    }
    terms["bptx_sbp_ge110"] = terms["bptx"] * terms["sbp_ge110"]
    terms["statin_nonhdl"] = terms["statin"] * terms["nonhdl"]
    for name in ("nonhdl", "hdl", "sbp_ge110", "dm", "smoking", "egfr_lt60"):
        terms[f"age_{name}"] = terms["age"] * terms[name]
    return terms


def prevent_10y(
    *,
    sex: str,
    age: float,
    total_cholesterol: float,
    hdl_cholesterol: float,
    systolic_bp: float,
    bp_treated: bool,
    diabetic: bool,
    smoker: bool,
    egfr: float,
    statin: bool,
    bmi: float | None = None,
) -> dict[str, float]:
    """10-year total CVD and ASCVD risk in percent by the PREVENT base model (Khan 2024).

    Returns {"total_cvd": ..., "ascvd": ...}. Cholesterol in mg/dL, SBP in mmHg, eGFR in
    mL/min/1.73 m2. BMI, when given, is range-checked only: it is a term of PREVENT's heart-failure
    model, not of the total-CVD or ASCVD models computed here.
    """
    sex = check.sex(sex)
    age = check.number("age", age)
    total_cholesterol = check.number("total_cholesterol", total_cholesterol)
    hdl_cholesterol = check.number("hdl_cholesterol", hdl_cholesterol)
    systolic_bp = check.number("systolic_bp", systolic_bp)
    bp_treated = check.flag("bp_treated", bp_treated)
    diabetic = check.flag("diabetic", diabetic)
    smoker = check.flag("smoker", smoker)
    egfr = check.number("egfr", egfr)
    statin = check.flag("statin", statin)
    bmi = check.optional_number("bmi", bmi)
    checks = [
        ("age", *PREVENT_RANGES["age"], "", age),
        ("total cholesterol", *PREVENT_RANGES["total_cholesterol"], "mg/dL", total_cholesterol),
        ("HDL cholesterol", *PREVENT_RANGES["hdl_cholesterol"], "mg/dL", hdl_cholesterol),
        ("systolic blood pressure", *PREVENT_RANGES["systolic_bp"], "mmHg", systolic_bp),
        ("eGFR", *PREVENT_RANGES["egfr"], "mL/min/1.73 m2", egfr),
    ]
    if bmi is not None:
        checks.append(("BMI", *PREVENT_RANGES["bmi"], "kg/m2", bmi))
    check.ranges(PREVENT_NAME, checks)

    terms = _prevent_terms(
        age=age,
        total_cholesterol=total_cholesterol,
        hdl_cholesterol=hdl_cholesterol,
        systolic_bp=systolic_bp,
        bp_treated=bp_treated,
        diabetic=diabetic,
        smoker=smoker,
        egfr=egfr,
        statin=statin,
    )
    risks = {}
    for outcome, coefficients in _PREVENT_10Y[sex].items():
        x = coefficients["const"] + sum(coefficients[name] * value for name, value in terms.items())
        risks[outcome] = 100.0 / (1.0 + math.exp(-x))
    return risks
