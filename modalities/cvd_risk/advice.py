"""Recommendations for one risk-factor panel: the 2019 ACC/AHA primary-prevention, 2018 cholesterol and
2017 blood-pressure guidelines, each recommendation naming its source. Pure Python: no Django import."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .categories import risk_category
from .values import plain

if TYPE_CHECKING:
    from .rule import CleanPanel

# Guideline names used as recommendation sources.
PRIMARY_PREVENTION_2019 = "2019 ACC/AHA Primary Prevention Guideline (Arnett 2019)"
CHOLESTEROL_2018 = "2018 AHA/ACC Cholesterol Guideline (Grundy 2019)"
BLOOD_PRESSURE_2017 = "2017 ACC/AHA High Blood Pressure Guideline (Whelton 2018)"


def _recommendation(text: str, source: str) -> dict[str, str]:
    return {"text": text, "source": source}


def _statin_recommendations(
    p: CleanPanel, risk: float | None, headline_source: str | None, egfr: float | None
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
    p: CleanPanel, pce: float | None, egfr: float | None
) -> list[dict[str, str]]:
    # Systolic only: the panel carries no diastolic pressure. A diagnosis needs confirmed readings.
    source = f"{BLOOD_PRESSURE_2017}, Section 8.1"
    if not p.prior_cvd:
        source += f"; {PRIMARY_PREVENTION_2019}, Section 4.4"
    sbp = plain(p.systolic_bp)
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


def recommendations(
    p: CleanPanel, risk: float | None, headline_source: str | None, pce: float | None, egfr: float | None
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
