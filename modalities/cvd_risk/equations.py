"""Cardiovascular risk core: 10-year risk equations, eGFR, and a guideline-based assessment.

Pure Python on purpose (no Django import): the equations are tested against the papers' own worked
examples and can be reused by the worker, the API and management commands alike.

Sources (see /work/shared/reference/cvd-equations.md):
- Pooled Cohort Equations (PCE): Goff DC Jr et al. 2013 ACC/AHA Guideline on the Assessment of
  Cardiovascular Risk. Circulation 2014;129(suppl 2):S49-S73, Appendix 7 Table A.
- PREVENT base model: Khan SS et al. Development and Validation of the American Heart Association's
  PREVENT Equations. Circulation 2024;149:430-449, and its supplement.
- CKD-EPI 2021 creatinine equation: Inker LA et al. N Engl J Med 2021;385:1737-1749.
- Risk categories and recommendations: Arnett DK et al. 2019 ACC/AHA Guideline on the Primary
  Prevention of Cardiovascular Disease, Circulation 2019;140:e596; Grundy SM et al. 2018
  AHA/ACC Guideline on the Management of Blood Cholesterol, Circulation 2019;139:e1082; Whelton PK
  et al. 2017 ACC/AHA High Blood Pressure Guideline, Hypertension 2018;71:e13.

Two kinds of failure are kept apart: ``ValueError`` for malformed input (wrong type, NaN, negative,
unknown sex), ``NotApplicable`` for a well-formed value outside an equation's validated range. The
equations never extrapolate.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

METHOD_VERSION = "cvd_risk 1.0 (PCE Goff 2014; PREVENT Khan 2024; CKD-EPI 2021)"

PCE_NAME = "Pooled Cohort Equations"
PREVENT_NAME = "PREVENT equations"

SECONDARY_PREVENTION_REASON = (
    "Primary-prevention equations do not apply to a patient with established cardiovascular disease: "
    "manage as secondary prevention."
)

# Guideline names used as recommendation sources.
PRIMARY_PREVENTION_2019 = "2019 ACC/AHA Primary Prevention Guideline (Arnett 2019)"
CHOLESTEROL_2018 = "2018 AHA/ACC Cholesterol Guideline (Grundy 2019)"
BLOOD_PRESSURE_2017 = "2017 ACC/AHA High Blood Pressure Guideline (Whelton 2018)"

# Reference values for the "what if this factor were optimal" contributions.
OPTIMAL_SYSTOLIC_BP = 120.0
OPTIMAL_TOTAL_CHOLESTEROL = 170.0
OPTIMAL_HDL_CHOLESTEROL = 50.0


class NotApplicable(Exception):
    """A well-formed input lies outside the equation's validated range; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


# ---------------------------------------------------------------------------------------------------
# Input checking
# ---------------------------------------------------------------------------------------------------


def _number(name: str, value: Any, *, positive: bool = False) -> float:
    # bool is an int subclass; True as a cholesterol value is a caller bug, not 1 mg/dL.
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if number < 0:
        raise ValueError(f"{name} cannot be negative, got {value!r}.")
    if positive and number == 0:
        raise ValueError(f"{name} must be greater than zero, got {value!r}.")
    return number


def _optional_number(name: str, value: Any, *, positive: bool = False) -> float | None:
    return None if value is None else _number(name, value, positive=positive)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return value


def _sex(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("female", "male"):
        return value.strip().lower()
    raise ValueError(f"sex must be 'female' or 'male', got {value!r}.")


def _race(value: Any) -> str:
    # Goff 2014: the PCE have African-American and white equations; for any other race or ethnicity
    # the guideline directs use of the white equations.
    if value is None:
        return "white"
    if not isinstance(value, str):
        raise ValueError(f"race must be a string or None, got {type(value).__name__} {value!r}.")
    normalized = value.strip().lower().replace("-", "_").replace(" ", "_")
    if normalized in ("african_american", "black", "black_or_african_american"):
        return "african_american"
    return "white"


def _format(value: float) -> str:
    return f"{value:g}"


def _check_ranges(equation: str, checks: list[tuple[str, float, float, str, float]]) -> None:
    """Raise NotApplicable listing every value outside [low, high]; an empty unit marks age."""
    problems = []
    for label, low, high, unit, value in checks:
        if low <= value <= high:
            continue
        if label == "age":
            problems.append(
                f"{equation} are validated for ages {_format(low)}-{_format(high)}; "
                f"patient is {_format(value)}."
            )
        else:
            problems.append(
                f"{equation} are validated for {label} {_format(low)}-{_format(high)} {unit}; "
                f"patient's is {_format(value)} {unit}."
            )
    if problems:
        raise NotApplicable(" ".join(problems))


# ---------------------------------------------------------------------------------------------------
# Unit conversions (factors as in the PREVENT supplement, Khan 2024, and CKD-EPI 2021, Inker 2021)
# ---------------------------------------------------------------------------------------------------

CHOLESTEROL_MG_DL_TO_MMOL = 0.02586
CHOLESTEROL_MMOL_TO_MG_DL = 38.67
CREATININE_UMOL_PER_MG_DL = 88.4


def mmol_to_mg_dl_cholesterol(x: float) -> float:
    return _number("cholesterol (mmol/L)", x) * CHOLESTEROL_MMOL_TO_MG_DL


def mg_dl_to_mmol_cholesterol(x: float) -> float:
    return _number("cholesterol (mg/dL)", x) * CHOLESTEROL_MG_DL_TO_MMOL


def umol_to_mg_dl_creatinine(x: float) -> float:
    return _number("creatinine (umol/L)", x) / CREATININE_UMOL_PER_MG_DL


# ---------------------------------------------------------------------------------------------------
# CKD-EPI 2021 creatinine equation, race-free.
# Inker LA et al. N Engl J Med 2021;385:1737-1749.
# eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 (if female)
# ---------------------------------------------------------------------------------------------------

_CKD_EPI_2021 = {
    "female": {"kappa": 0.7, "alpha": -0.241, "sex_factor": 1.012},
    "male": {"kappa": 0.9, "alpha": -0.302, "sex_factor": 1.0},
}


def egfr_ckd_epi_2021(*, sex: str, age: float, creatinine: float) -> float:
    """eGFR in mL/min/1.73 m2 from serum creatinine in mg/dL (CKD-EPI 2021, Inker 2021)."""
    sex = _sex(sex)
    age = _number("age", age)
    creatinine = _number("creatinine", creatinine, positive=True)
    # The equation was developed and validated in adults; children need a pediatric equation.
    if age < 18:
        raise NotApplicable(
            f"CKD-EPI 2021 is validated for adults aged 18 and over; patient is {_format(age)}."
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
    ("female", "white"): _PceCoefficients(
        ln_age=-29.799, ln_age_squared=4.884, ln_total_cholesterol=13.540,
        ln_age_x_ln_total_cholesterol=-3.114, ln_hdl=-13.578, ln_age_x_ln_hdl=3.149,
        ln_treated_sbp=2.019, ln_age_x_ln_treated_sbp=0.0, ln_untreated_sbp=1.957,
        ln_age_x_ln_untreated_sbp=0.0, smoker=7.574, ln_age_x_smoker=-1.665, diabetes=0.661,
        mean_sum=-29.1817, baseline_survival=0.96652,
    ),
    ("female", "african_american"): _PceCoefficients(
        ln_age=17.1141, ln_age_squared=0.0, ln_total_cholesterol=0.9396,
        ln_age_x_ln_total_cholesterol=0.0, ln_hdl=-18.9196, ln_age_x_ln_hdl=4.4748,
        ln_treated_sbp=29.2907, ln_age_x_ln_treated_sbp=-6.4321, ln_untreated_sbp=27.8197,
        ln_age_x_ln_untreated_sbp=-6.0873, smoker=0.6908, ln_age_x_smoker=0.0, diabetes=0.8738,
        mean_sum=86.6081, baseline_survival=0.95334,
    ),
    ("male", "white"): _PceCoefficients(
        ln_age=12.344, ln_age_squared=0.0, ln_total_cholesterol=11.853,
        ln_age_x_ln_total_cholesterol=-2.664, ln_hdl=-7.990, ln_age_x_ln_hdl=1.769,
        ln_treated_sbp=1.797, ln_age_x_ln_treated_sbp=0.0, ln_untreated_sbp=1.764,
        ln_age_x_ln_untreated_sbp=0.0, smoker=7.837, ln_age_x_smoker=-1.795, diabetes=0.658,
        mean_sum=61.1816, baseline_survival=0.91436,
    ),
    ("male", "african_american"): _PceCoefficients(
        ln_age=2.469, ln_age_squared=0.0, ln_total_cholesterol=0.302,
        ln_age_x_ln_total_cholesterol=0.0, ln_hdl=-0.307, ln_age_x_ln_hdl=0.0,
        ln_treated_sbp=1.916, ln_age_x_ln_treated_sbp=0.0, ln_untreated_sbp=1.809,
        ln_age_x_ln_untreated_sbp=0.0, smoker=0.549, ln_age_x_smoker=0.0, diabetes=0.645,
        mean_sum=19.5425, baseline_survival=0.89536,
    ),
}  # fmt: skip

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
    sex = _sex(sex)
    race = _race(race)
    age = _number("age", age)
    total_cholesterol = _number("total_cholesterol", total_cholesterol)
    hdl_cholesterol = _number("hdl_cholesterol", hdl_cholesterol)
    systolic_bp = _number("systolic_bp", systolic_bp)
    bp_treated = _flag("bp_treated", bp_treated)
    smoker = _flag("smoker", smoker)
    diabetic = _flag("diabetic", diabetic)
    _check_ranges(
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

_PREVENT_10Y: dict[str, dict[str, dict[str, float]]] = {
    "female": {
        "total_cvd": {
            "const": -3.307728, "age": 0.7939329, "nonhdl": 0.0305239, "hdl": -0.1606857,
            "sbp_lt110": -0.2394003, "sbp_ge110": 0.3600781, "dm": 0.8667604, "smoking": 0.5360739,
            "egfr_lt60": 0.6045917, "egfr_ge60": 0.0433769, "bptx": 0.3151672, "statin": -0.1477655,
            "bptx_sbp_ge110": -0.0663612, "statin_nonhdl": 0.1197879, "age_nonhdl": -0.0819715,
            "age_hdl": 0.0306769, "age_sbp_ge110": -0.0946348, "age_dm": -0.27057,
            "age_smoking": -0.078715, "age_egfr_lt60": -0.1637806,
        },
        "ascvd": {
            "const": -3.819975, "age": 0.719883, "nonhdl": 0.1176967, "hdl": -0.151185,
            "sbp_lt110": -0.0835358, "sbp_ge110": 0.3592852, "dm": 0.8348585, "smoking": 0.4831078,
            "egfr_lt60": 0.4864619, "egfr_ge60": 0.0397779, "bptx": 0.2265309, "statin": -0.0592374,
            "bptx_sbp_ge110": -0.0395762, "statin_nonhdl": 0.0844423, "age_nonhdl": -0.0567839,
            "age_hdl": 0.0325692, "age_sbp_ge110": -0.1035985, "age_dm": -0.2417542,
            "age_smoking": -0.0791142, "age_egfr_lt60": -0.1671492,
        },
    },
    "male": {
        "total_cvd": {
            "const": -3.031168, "age": 0.7688528, "nonhdl": 0.0736174, "hdl": -0.0954431,
            "sbp_lt110": -0.4347345, "sbp_ge110": 0.3362658, "dm": 0.7692857, "smoking": 0.4386871,
            "egfr_lt60": 0.5378979, "egfr_ge60": 0.0164827, "bptx": 0.288879, "statin": -0.1337349,
            "bptx_sbp_ge110": -0.0475924, "statin_nonhdl": 0.150273, "age_nonhdl": -0.0517874,
            "age_hdl": 0.0191169, "age_sbp_ge110": -0.1049477, "age_dm": -0.2251948,
            "age_smoking": -0.0895067, "age_egfr_lt60": -0.1543702,
        },
        "ascvd": {
            "const": -3.500655, "age": 0.7099847, "nonhdl": 0.1658663, "hdl": -0.1144285,
            "sbp_lt110": -0.2837212, "sbp_ge110": 0.3239977, "dm": 0.7189597, "smoking": 0.3956973,
            "egfr_lt60": 0.3690075, "egfr_ge60": 0.0203619, "bptx": 0.2036522, "statin": -0.0865581,
            "bptx_sbp_ge110": -0.0322916, "statin_nonhdl": 0.114563, "age_nonhdl": -0.0300005,
            "age_hdl": 0.0232747, "age_sbp_ge110": -0.0927024, "age_dm": -0.2018525,
            "age_smoking": -0.0970527, "age_egfr_lt60": -0.1217081,
        },
    },
}  # fmt: skip

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
    sex = _sex(sex)
    age = _number("age", age)
    total_cholesterol = _number("total_cholesterol", total_cholesterol)
    hdl_cholesterol = _number("hdl_cholesterol", hdl_cholesterol)
    systolic_bp = _number("systolic_bp", systolic_bp)
    bp_treated = _flag("bp_treated", bp_treated)
    diabetic = _flag("diabetic", diabetic)
    smoker = _flag("smoker", smoker)
    egfr = _number("egfr", egfr)
    statin = _flag("statin", statin)
    bmi = _optional_number("bmi", bmi)
    checks = [
        ("age", *PREVENT_RANGES["age"], "", age),
        ("total cholesterol", *PREVENT_RANGES["total_cholesterol"], "mg/dL", total_cholesterol),
        ("HDL cholesterol", *PREVENT_RANGES["hdl_cholesterol"], "mg/dL", hdl_cholesterol),
        ("systolic blood pressure", *PREVENT_RANGES["systolic_bp"], "mmHg", systolic_bp),
        ("eGFR", *PREVENT_RANGES["egfr"], "mL/min/1.73 m2", egfr),
    ]
    if bmi is not None:
        checks.append(("BMI", *PREVENT_RANGES["bmi"], "kg/m2", bmi))
    _check_ranges(PREVENT_NAME, checks)

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


# ---------------------------------------------------------------------------------------------------
# Risk categories: 2019 ACC/AHA Primary Prevention Guideline (Arnett 2019, Section 2.2) and 2018
# AHA/ACC Cholesterol Guideline (Grundy 2019): low <5%, borderline 5 to <7.5%, intermediate 7.5 to
# <20%, high >=20% 10-year ASCVD risk (defined on the Pooled Cohort Equations).
# ---------------------------------------------------------------------------------------------------

RISK_LEVELS = ("low", "borderline", "intermediate", "high")


def risk_category(percent: float) -> str:
    percent = _number("risk percent", percent)
    if percent > 100:
        raise ValueError(f"risk percent cannot exceed 100, got {percent!r}.")
    if percent < 5.0:
        return "low"
    if percent < 7.5:
        return "borderline"
    if percent < 20.0:
        return "intermediate"
    return "high"


# ---------------------------------------------------------------------------------------------------
# Assessment of one risk-factor panel
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskPanel:
    """One patient's risk factors. Cholesterol and creatinine in mg/dL, SBP in mmHg."""

    sex: str
    age: float
    total_cholesterol_mg_dl: float
    hdl_cholesterol_mg_dl: float
    systolic_bp: float
    bp_treated: bool
    diabetic: bool
    smoker: bool
    statin: bool
    egfr: float | None = None
    creatinine_mg_dl: float | None = None
    bmi: float | None = None
    race: str | None = None
    prior_cvd: bool = False


@dataclass
class CvdAssessment:
    """Outcome of ``assess``.

    ``headline_source`` is the ``results`` key the headline came from ("pce_ascvd_10y" or
    "prevent_ascvd_10y"), or None when no equation applies. ``not_applicable`` maps "pce",
    "prevent" and, when creatinine could not be used, "egfr" to a clinician-readable reason.
    """

    risk_score: float | None
    risk_level: str | None
    headline_source: str | None
    results: dict[str, Any]
    not_applicable: dict[str, str] = field(default_factory=dict)
    recommendations: list[dict[str, str]] = field(default_factory=list)
    contributions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    method_version: str = METHOD_VERSION

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _CleanPanel:
    sex: str
    race: str
    age: float
    total_cholesterol: float
    hdl_cholesterol: float
    systolic_bp: float
    bp_treated: bool
    diabetic: bool
    smoker: bool
    statin: bool
    egfr: float | None
    creatinine: float | None
    bmi: float | None
    prior_cvd: bool


def _clean(panel: RiskPanel) -> _CleanPanel:
    if not isinstance(panel, RiskPanel):
        raise ValueError(f"assess() needs a RiskPanel, got {type(panel).__name__}.")
    return _CleanPanel(
        sex=_sex(panel.sex),
        race=_race(panel.race),
        age=_number("age", panel.age),
        total_cholesterol=_number("total_cholesterol_mg_dl", panel.total_cholesterol_mg_dl),
        hdl_cholesterol=_number("hdl_cholesterol_mg_dl", panel.hdl_cholesterol_mg_dl),
        systolic_bp=_number("systolic_bp", panel.systolic_bp),
        bp_treated=_flag("bp_treated", panel.bp_treated),
        diabetic=_flag("diabetic", panel.diabetic),
        smoker=_flag("smoker", panel.smoker),
        statin=_flag("statin", panel.statin),
        egfr=_optional_number("egfr", panel.egfr),
        creatinine=_optional_number("creatinine_mg_dl", panel.creatinine_mg_dl, positive=True),
        bmi=_optional_number("bmi", panel.bmi),
        prior_cvd=_flag("prior_cvd", panel.prior_cvd),
    )


def _pce_for(p: _CleanPanel, **overrides: Any) -> float:
    values = {
        "sex": p.sex,
        "race": p.race,
        "age": p.age,
        "total_cholesterol": p.total_cholesterol,
        "hdl_cholesterol": p.hdl_cholesterol,
        "systolic_bp": p.systolic_bp,
        "bp_treated": p.bp_treated,
        "smoker": p.smoker,
        "diabetic": p.diabetic,
    }
    return pooled_cohort_ascvd_10y(**(values | overrides))


def _prevent_for(p: _CleanPanel, egfr: float, **overrides: Any) -> dict[str, float]:
    values = {
        "sex": p.sex,
        "age": p.age,
        "total_cholesterol": p.total_cholesterol,
        "hdl_cholesterol": p.hdl_cholesterol,
        "systolic_bp": p.systolic_bp,
        "bp_treated": p.bp_treated,
        "diabetic": p.diabetic,
        "smoker": p.smoker,
        "egfr": egfr,
        "statin": p.statin,
        "bmi": p.bmi,
    }
    return prevent_10y(**(values | overrides))


def _contributions(p: _CleanPanel, headline_source: str, risk: float, egfr: float | None) -> list[dict]:
    """Headline risk with one modifiable factor at its optimal value, the others unchanged.

    A factor already at or better than its optimal value contributes 0 (we never move a value to a
    worse one). Treated hypertension keeps its treatment flag: only the SBP level is changed.
    Diabetes is left out: it is not modifiable in this sense.
    """

    def headline(**overrides: Any) -> float:
        if headline_source == "pce_ascvd_10y":
            return _pce_for(p, **overrides)
        return _prevent_for(p, egfr, **overrides)["ascvd"]

    factors = [
        ("smoking", p.smoker, False, p.smoker, {"smoker": False}),
        (
            "systolic_bp",
            p.systolic_bp,
            OPTIMAL_SYSTOLIC_BP,
            p.systolic_bp > OPTIMAL_SYSTOLIC_BP,
            {"systolic_bp": OPTIMAL_SYSTOLIC_BP},
        ),
        (
            "total_cholesterol",
            p.total_cholesterol,
            OPTIMAL_TOTAL_CHOLESTEROL,
            p.total_cholesterol > OPTIMAL_TOTAL_CHOLESTEROL,
            {"total_cholesterol": OPTIMAL_TOTAL_CHOLESTEROL},
        ),
        (
            "hdl_cholesterol",
            p.hdl_cholesterol,
            OPTIMAL_HDL_CHOLESTEROL,
            p.hdl_cholesterol < OPTIMAL_HDL_CHOLESTEROL,
            {"hdl_cholesterol": OPTIMAL_HDL_CHOLESTEROL},
        ),
    ]
    contributions = []
    for name, current, optimal, worse_than_optimal, overrides in factors:
        risk_with_optimal = headline(**overrides) if worse_than_optimal else risk
        contributions.append(
            {
                "factor": name,
                "current_value": current,
                "optimal_value": optimal,
                "risk_with_optimal": risk_with_optimal,
                "contribution_points": risk - risk_with_optimal,
            }
        )
    return contributions


def _recommendation(text: str, source: str) -> dict[str, str]:
    return {"text": text, "source": source}


def _statin_recommendations(
    p: _CleanPanel, risk: float | None, headline_source: str | None, egfr: float | None
) -> list[dict[str, str]]:
    recs = []
    if p.diabetic and 40 <= p.age <= 75:
        if p.statin:
            text = "Diabetes, age 40-75: statin therapy is indicated; continue it and check adherence."
        else:
            text = (
                "Diabetes, age 40-75: start a moderate-intensity statin regardless of estimated 10-year risk."
            )
        recs.append(
            _recommendation(text, f"{PRIMARY_PREVENTION_2019}, Section 4.3; {CHOLESTEROL_2018}, Section 4.3")
        )

    if risk is None:
        recs.append(
            _recommendation(
                "No validated 10-year risk equation applies to this patient: base prevention decisions on "
                "clinical assessment.",
                f"{PRIMARY_PREVENTION_2019}, Section 2.2",
            )
        )
        return recs

    level = risk_category(risk)
    statin_source = f"{PRIMARY_PREVENTION_2019}, Section 4.3; {CHOLESTEROL_2018}, Section 4.4"
    if headline_source == "pce_ascvd_10y" and 40 <= p.age <= 75:
        texts = {
            "low": "Low 10-year ASCVD risk (<5%): emphasize a heart-healthy lifestyle.",
            "borderline": (
                "Borderline risk (5% to <7.5%): if risk-enhancing factors are present, discuss a "
                "moderate-intensity statin."
            ),
            "intermediate": (
                "Intermediate risk (7.5% to <20%): discuss a moderate-intensity statin; consider "
                "risk-enhancing factors, and coronary artery calcium scoring if the decision is uncertain."
            ),
            "high": "High risk (20% or more): start a statin to lower LDL-C by 50% or more (high intensity).",
        }
        # For diabetes the age-based statin indication above already applies below high risk.
        if not (p.diabetic and level != "high"):
            recs.append(_recommendation(texts[level], statin_source))
        if p.statin and level != "low" and not p.diabetic:
            recs.append(
                _recommendation(
                    "Already on a statin: continue it; check adherence and LDL-C response.", CHOLESTEROL_2018
                )
            )
        if egfr is not None and egfr < 60 and level in ("borderline", "intermediate"):
            recs.append(
                _recommendation(
                    f"Chronic kidney disease (eGFR {egfr:.0f}) is a risk-enhancing factor that favours "
                    "statin therapy.",
                    f"{CHOLESTEROL_2018}, Section 4.4",
                )
            )
    elif headline_source == "pce_ascvd_10y":
        recs.append(
            _recommendation(
                "Age over 75: statin benefit is less certain; decide through a clinician-patient discussion "
                "of benefits and risks.",
                f"{CHOLESTEROL_2018}, Section 4.4",
            )
        )
    else:
        recs.append(
            _recommendation(
                "The guideline's statin thresholds were defined on the Pooled Cohort Equations for ages "
                "40-75; this PREVENT estimate is not interchangeable with them: use clinical judgement.",
                f"{PRIMARY_PREVENTION_2019}, Section 2.2; Khan 2024 (PREVENT)",
            )
        )
        if p.age < 40:
            recs.append(
                _recommendation(
                    "Adults under 40: emphasize a heart-healthy lifestyle; longer-term (30-year or lifetime) "
                    "risk can inform the discussion.",
                    f"{PRIMARY_PREVENTION_2019}, Section 2.2",
                )
            )
    return recs


def _blood_pressure_recommendations(
    p: _CleanPanel, pce: float | None, egfr: float | None
) -> list[dict[str, str]]:
    # Systolic only: the panel carries no diastolic pressure. A diagnosis needs confirmed readings.
    source = f"{BLOOD_PRESSURE_2017}, Section 8.1"
    if not p.prior_cvd:
        source += f"; {PRIMARY_PREVENTION_2019}, Section 4.4"
    sbp = _format(p.systolic_bp)
    if p.bp_treated:
        if p.systolic_bp >= 130:
            text = (
                f"Systolic BP {sbp} mmHg on treatment is above the <130 mmHg goal: check adherence and "
                "intensify therapy."
            )
            return [_recommendation(text, source)]
        return []
    if p.systolic_bp >= 140:
        text = (
            f"Systolic BP {sbp} mmHg (stage 2 hypertension if confirmed): lifestyle changes plus "
            "antihypertensive medication."
        )
    elif p.systolic_bp >= 130:
        compelling = p.prior_cvd or p.diabetic or (egfr is not None and egfr < 60)
        if compelling or (pce is not None and pce >= 10):
            text = (
                f"Systolic BP {sbp} mmHg (stage 1 hypertension if confirmed) with clinical CVD, diabetes, "
                "CKD or 10-year ASCVD risk of 10% or more: lifestyle changes plus antihypertensive "
                "medication."
            )
        elif pce is not None:
            text = (
                f"Systolic BP {sbp} mmHg (stage 1 hypertension if confirmed) with 10-year ASCVD risk below "
                "10%: lifestyle changes; reassess in 3-6 months."
            )
        else:
            text = (
                f"Systolic BP {sbp} mmHg (stage 1 hypertension if confirmed): lifestyle changes; add "
                "medication if clinical CVD, diabetes, CKD or 10-year ASCVD risk of 10% or more."
            )
    elif p.systolic_bp >= 120:
        text = f"Systolic BP {sbp} mmHg (elevated): lifestyle changes; reassess in 3-6 months."
    else:
        return []
    return [_recommendation(text, source)]


def _recommendations(
    p: _CleanPanel, risk: float | None, headline_source: str | None, pce: float | None, egfr: float | None
) -> list[dict[str, str]]:
    recs = []
    if p.prior_cvd:
        recs.append(
            _recommendation(
                "Established cardiovascular disease: manage as secondary prevention (high-intensity or "
                "maximally tolerated statin); primary-prevention risk estimates do not apply.",
                f"{CHOLESTEROL_2018}, Section 4.1",
            )
        )
    else:
        recs.extend(_statin_recommendations(p, risk, headline_source, egfr))
    if p.smoker:
        recs.append(
            _recommendation(
                "Current smoker: advise quitting at every visit and offer behavioural support with "
                "pharmacotherapy.",
                f"{PRIMARY_PREVENTION_2019}, Section 4.5",
            )
        )
    recs.extend(_blood_pressure_recommendations(p, pce, egfr))
    if p.bmi is not None and p.bmi >= 25:
        label = "obesity" if p.bmi >= 30 else "overweight"
        recs.append(
            _recommendation(
                f"BMI {p.bmi:.1f} ({label}): counsel on caloric restriction, physical activity and "
                "behavioural support for weight loss.",
                f"{PRIMARY_PREVENTION_2019}, Section 4.1",
            )
        )
    recs.append(
        _recommendation(
            "Heart-healthy diet and at least 150 minutes a week of moderate-intensity physical activity.",
            f"{PRIMARY_PREVENTION_2019}, Sections 3.1-3.2",
        )
    )
    return recs


def assess(panel: RiskPanel) -> CvdAssessment:
    """Run PCE and PREVENT independently on one panel and derive the headline risk and advice.

    Raises ValueError for a malformed panel; an equation that does not apply is reported in
    ``not_applicable``, never raised.
    """
    p = _clean(panel)
    not_applicable: dict[str, str] = {}
    notes: list[str] = []

    egfr = p.egfr
    egfr_derived = False
    if egfr is None and p.creatinine is not None:
        try:
            egfr = egfr_ckd_epi_2021(sex=p.sex, age=p.age, creatinine=p.creatinine)
            egfr_derived = True
            notes.append(
                f"eGFR {egfr:.1f} mL/min/1.73 m2 estimated from serum creatinine "
                f"{_format(p.creatinine)} mg/dL with the CKD-EPI 2021 equation (Inker 2021)."
            )
        except NotApplicable as exc:
            not_applicable["egfr"] = exc.reason

    pce: float | None = None
    prevent: dict[str, float] | None = None
    if p.prior_cvd:
        not_applicable["pce"] = SECONDARY_PREVENTION_REASON
        not_applicable["prevent"] = SECONDARY_PREVENTION_REASON
    else:
        try:
            pce = _pce_for(p)
        except NotApplicable as exc:
            not_applicable["pce"] = exc.reason
        if egfr is None:
            reason = "PREVENT equations need eGFR (or serum creatinine to estimate it)"
            if "egfr" in not_applicable:
                not_applicable["prevent"] = f"{reason}: {not_applicable['egfr']}"
            else:
                not_applicable["prevent"] = f"{reason}; none was provided."
        else:
            try:
                prevent = _prevent_for(p, egfr)
            except NotApplicable as exc:
                not_applicable["prevent"] = exc.reason

    risk: float | None = None
    headline_source: str | None = None
    if pce is not None:
        # The guideline's risk categories were defined on the PCE, so it leads whenever it applies.
        risk, headline_source = pce, "pce_ascvd_10y"
        if p.statin:
            notes.append(
                "The Pooled Cohort Equations assume untreated cholesterol; with on-statin values the "
                "estimate may understate the patient's untreated risk."
            )
    elif prevent is not None:
        risk, headline_source = prevent["ascvd"], "prevent_ascvd_10y"
        notes.append(
            "Headline is the PREVENT 10-year ASCVD risk: the Pooled Cohort Equations do not apply. "
            f"{not_applicable['pce']} The risk categories were defined on the Pooled Cohort Equations, "
            "whose estimates are generally higher than PREVENT's: interpret the category with caution."
        )

    results = {
        "pce_ascvd_10y": pce,
        "prevent_total_cvd_10y": prevent["total_cvd"] if prevent else None,
        "prevent_ascvd_10y": prevent["ascvd"] if prevent else None,
        "egfr": egfr,
        "egfr_derived": egfr_derived,
    }
    return CvdAssessment(
        risk_score=risk,
        risk_level=risk_category(risk) if risk is not None else None,
        headline_source=headline_source,
        results=results,
        not_applicable=not_applicable,
        recommendations=_recommendations(p, risk, headline_source, pce, egfr),
        contributions=_contributions(p, headline_source, risk, egfr) if headline_source else [],
        notes=notes,
    )
