"""One risk-factor panel assessed: which equations apply, which one leads, its risk category, and what each
modifiable factor adds. Pure Python (no Django import): the worker and the submission check run the same
``assess``, so a request that can never succeed is refused when it is made, for the same reason the worker
would give.

Risk categories: 2019 ACC/AHA Primary Prevention Guideline (Arnett 2019, Section 2.2) and 2018 AHA/ACC
Cholesterol Guideline (Grundy 2019): low < 5%, borderline 5 to < 7.5%, intermediate 7.5 to < 20%, high >= 20%
10-year ASCVD risk, defined on the Pooled Cohort Equations. The category is read on the risk as shown (one
decimal), so a 7.46% shown as 7.5% is intermediate everywhere it appears.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from . import advice
from . import values as check
from .categories import GUIDELINE_BANDS, RISK_DECIMALS, RISK_LEVELS, risk_category  # noqa: F401 (the rule's API)
from .equations import PCE_NAME, PREVENT_NAME, PREVENT_RANGES, egfr_ckd_epi_2021, pooled_cohort_ascvd_10y, prevent_10y
from .values import NotApplicable

METHOD_VERSION = "cvd_risk 1.1 (PCE Goff 2014; PREVENT Khan 2024; CKD-EPI 2021)"

EQUATION_NAMES = {"pce": PCE_NAME, "prevent": PREVENT_NAME, "egfr": "CKD-EPI 2021 eGFR"}

SECONDARY_PREVENTION_REASON = (
    "Primary-prevention equations do not apply to a patient with established cardiovascular disease: "
    "manage as secondary prevention."
)

# Reference values for the "what if this factor were optimal" contributions.
OPTIMAL_SYSTOLIC_BP = 120.0
OPTIMAL_TOTAL_CHOLESTEROL = 170.0
OPTIMAL_HDL_CHOLESTEROL = 50.0


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
    # Inputs whose absence kept an equation from running ("egfr": PREVENT needs it).
    missing: tuple[str, ...] = ()
    method_version: str = METHOD_VERSION

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CleanPanel:
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


def _clean(panel: RiskPanel) -> CleanPanel:
    if not isinstance(panel, RiskPanel):
        raise ValueError(f"assess() needs a RiskPanel, got {type(panel).__name__}.")
    return CleanPanel(
        sex=check.sex(panel.sex),
        race=check.race(panel.race),
        age=check.number("age", panel.age),
        total_cholesterol=check.number("total_cholesterol_mg_dl", panel.total_cholesterol_mg_dl),
        hdl_cholesterol=check.number("hdl_cholesterol_mg_dl", panel.hdl_cholesterol_mg_dl),
        systolic_bp=check.number("systolic_bp", panel.systolic_bp),
        bp_treated=check.flag("bp_treated", panel.bp_treated),
        diabetic=check.flag("diabetic", panel.diabetic),
        smoker=check.flag("smoker", panel.smoker),
        statin=check.flag("statin", panel.statin),
        egfr=check.optional_number("egfr", panel.egfr),
        creatinine=check.optional_number("creatinine_mg_dl", panel.creatinine_mg_dl, positive=True),
        bmi=check.optional_number("bmi", panel.bmi),
        prior_cvd=check.flag("prior_cvd", panel.prior_cvd),
    )


def _pce_for(p: CleanPanel, **overrides: Any) -> float:
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


def _prevent_for(p: CleanPanel, egfr: float, **overrides: Any) -> dict[str, float]:
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


def _contributions(p: CleanPanel, headline_source: str, risk: float, egfr: float | None) -> list[dict]:
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



def _prevent_without_egfr(p: CleanPanel, egfr_reason: str | None) -> tuple[str, tuple[str, ...]]:
    """Why PREVENT did not run without an eGFR, and whether the eGFR is what it lacks: asking for an eGFR
    when the patient's age or another value rules PREVENT out anyway would send the clinician round twice."""
    try:
        _prevent_for(p, PREVENT_RANGES["egfr"][1])  # any eGFR in range: would PREVENT apply if one were known?
    except NotApplicable as exc:
        return exc.reason, ()
    reason = "PREVENT equations need eGFR (or serum creatinine to estimate it)"
    if egfr_reason:
        return f"{reason}: {egfr_reason}", ("egfr",)
    return f"{reason}; none was provided.", ("egfr",)


def assess(panel: RiskPanel) -> CvdAssessment:
    """Run PCE and PREVENT independently on one panel and derive the headline risk and advice.

    Raises ValueError for a malformed panel; an equation that does not apply is reported in
    ``not_applicable``, never raised.
    """
    p = _clean(panel)
    not_applicable: dict[str, str] = {}
    notes: list[str] = []
    missing: tuple[str, ...] = ()

    egfr = p.egfr
    egfr_derived = False
    if egfr is None and p.creatinine is not None:
        try:
            egfr = egfr_ckd_epi_2021(sex=p.sex, age=p.age, creatinine=p.creatinine)
            egfr_derived = True
            notes.append(
                f"eGFR {egfr:.1f} mL/min/1.73 m2 estimated from serum creatinine "
                f"{check.plain(p.creatinine)} mg/dL with the CKD-EPI 2021 equation (Inker 2021)."
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
            not_applicable["prevent"], missing = _prevent_without_egfr(p, not_applicable.get("egfr"))
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
    shown = round(risk, RISK_DECIMALS) if risk is not None else None
    return CvdAssessment(
        risk_score=risk,
        risk_level=risk_category(shown) if shown is not None else None,
        headline_source=headline_source,
        results=results,
        not_applicable=not_applicable,
        recommendations=advice.recommendations(p, shown, headline_source, pce, egfr),
        contributions=_contributions(p, headline_source, risk, egfr) if headline_source else [],
        notes=notes,
        missing=missing,
    )
