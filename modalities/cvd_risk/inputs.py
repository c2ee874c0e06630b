"""The cardiovascular-risk panel as submitted: one input schema validates the portal's form and the API's
``inputs`` (units converted, implausible values refused), then ``resolve`` checks that an equation can run on
it, with the worker's own ``rule.assess``, so a request that can never succeed is a 400 naming the reason
instead of a 201 that fails later.

Stored inputs hold every value in the catalogue's unit (mg/dL for cholesterol and creatinine) and say so in
their unit fields; ``entered`` keeps the units that were typed."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from modalities.base import InputError, PatientFacts
from modalities.inputs import Choice, Day, Flag, InputSchema, Number, Whole, validate

from . import rule
from .catalogue import MG_DL, MMOL_L, UMOL_L
from .equations import mmol_to_mg_dl_cholesterol, umol_to_mg_dl_creatinine

# Limits beyond which a value is not a measurement but a typo: refused at submission (400), in the catalogue's
# units (after conversion). Values inside these limits but outside an equation's validated range make that
# equation "not applicable" instead.
PLAUSIBLE = {
    "age": (18, 120),
    "total_cholesterol": (50, 1000),
    "hdl_cholesterol": (5, 300),
    "systolic_bp": (50, 300),
    "bmi": (10, 90),
    "egfr": (1, 200),
    "creatinine": (0.1, 25),
}
SEXES = [("female", "Female"), ("male", "Male")]
# The history answers the panel takes from the patient's record, and the record's name for each.
HISTORY = {"bp_treated": "treated_hypertension", "diabetic": "has_diabetes", "smoker": "current_smoker",
           "statin": "on_statin"}  # fmt: skip
UNANSWERED = "Answer yes or no: this is unknown (the record does not say), and an unknown is never counted as no."
# Unknown is not "no": the equations are for people known to have no cardiovascular disease.
PRIOR_CVD_UNKNOWN = (
    "The risk equations apply only to a patient known to have no established cardiovascular disease, and the "
    "patient's record says it is unknown. Record on the patient's page whether they have had cardiovascular disease."
)
RACES = [("white", "White"), ("african_american", "African American"), ("other", "Other")]


def _optional(field_class, **kwargs):
    return field_class(required=False, allow_null=True, **kwargs)


class CvdRiskInputs(InputSchema):
    """The risk-factor panel. Values the request leaves out come from the patient's record (age, sex, BMI and
    the history flags); cholesterol and creatinine are in the unit their unit field names."""

    not_an_object = "Inputs must be a JSON object of risk factors."
    unknown_input = "Unknown input for cardiovascular risk."
    unit_fields = {"total_cholesterol": "cholesterol_unit", "hdl_cholesterol": "cholesterol_unit",
                   "creatinine": "creatinine_unit"}  # fmt: skip
    example = {"total_cholesterol": 213, "hdl_cholesterol": 50, "cholesterol_unit": MG_DL, "systolic_bp": 120,
               "race": "white", "egfr": 90}  # fmt: skip

    age = Whole(label="Age (years)", help_text="From the date of birth; override if needed.")
    sex = Choice(label="Sex at birth", choices=SEXES)
    race = _optional(
        Choice,
        label="Race (Pooled Cohort Equations only)",
        choices=RACES,
        help_text="Used only by the 2013 PCE, which has separate African-American equations; "
        "other or unknown uses the white equations, as the guideline directs. PREVENT is race-free.",
    )
    total_cholesterol = Number(label="Total cholesterol", help_text="In the cholesterol unit.")
    hdl_cholesterol = Number(label="HDL cholesterol", help_text="In the cholesterol unit.")
    cholesterol_unit = Choice(label="Cholesterol unit", choices=[MG_DL, MMOL_L], initial=MG_DL)
    systolic_bp = Number(label="Systolic blood pressure (mmHg)")
    bp_treated = Flag(label="On blood-pressure treatment", required=False, default=False)
    diabetic = Flag(label="Diabetes", required=False, default=False)
    smoker = Flag(label="Current smoker", required=False, default=False)
    statin = Flag(label="On a statin", required=False, default=False)
    bmi = _optional(Number, label="BMI (kg/m2)")
    egfr = _optional(Number, label="eGFR (mL/min/1.73m2)", help_text="Or give serum creatinine.")
    creatinine = _optional(Number, label="Serum creatinine", help_text="In the creatinine unit.")
    creatinine_unit = _optional(Choice, label="Creatinine unit", choices=[MG_DL, UMOL_L], initial=MG_DL)
    measured_on = _optional(Day, label="Date measured", help_text="When the panel was measured (default: today).")

    @classmethod
    def initial(cls, patient: PatientFacts) -> dict[str, Any]:
        """The patient's record (the portal prefills with it; the API's omitted fields)."""
        initial = {
            "age": patient.age,
            # None where the record says unknown: the request must then answer (``validate``).
            **{name: getattr(patient, record) for name, record in HISTORY.items()},
            "cholesterol_unit": MG_DL,
            "creatinine_unit": MG_DL,
        }
        if patient.sex_at_birth in ("female", "male"):
            initial["sex"] = patient.sex_at_birth
        if patient.bmi is not None:
            initial["bmi"] = patient.bmi
        return initial

    def validate_measured_on(self, value):
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError("The measurement date is in the future.")
        return value

    def validate(self, attrs):
        """Converted to the catalogue's units, then checked for plausibility there. A history answer that is
        missing (the record says unknown and the request did not say) is asked for, not read as "no"."""
        unanswered = {name: UNANSWERED for name in HISTORY if self.initial_data.get(name) is None}
        if unanswered:
            raise serializers.ValidationError(unanswered)
        data = dict(attrs)
        if data.get("cholesterol_unit") == MMOL_L:
            for name in ("total_cholesterol", "hdl_cholesterol"):
                data[name] = mmol_to_mg_dl_cholesterol(data[name])
        if data.get("creatinine") is not None and data.get("creatinine_unit") == UMOL_L:
            data["creatinine"] = umol_to_mg_dl_creatinine(data["creatinine"])
        errors = {name: _implausible(name, data.get(name)) for name in PLAUSIBLE}
        errors = {name: message for name, message in errors.items() if message}
        if "hdl_cholesterol" not in errors and data["hdl_cholesterol"] >= data["total_cholesterol"]:
            errors["hdl_cholesterol"] = "HDL cholesterol must be lower than total cholesterol."
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def resolved(self, data: dict[str, Any], patient: PatientFacts) -> dict[str, Any]:
        creatinine = data.get("creatinine")
        return {
            "age": data["age"],
            "sex": data["sex"],
            "race": data.get("race") or None,
            "total_cholesterol": round(data["total_cholesterol"], 2),
            "hdl_cholesterol": round(data["hdl_cholesterol"], 2),
            "cholesterol_unit": MG_DL,
            "systolic_bp": data["systolic_bp"],
            "bp_treated": data["bp_treated"],
            "diabetic": data["diabetic"],
            "smoker": data["smoker"],
            "statin": data["statin"],
            "bmi": data.get("bmi"),
            "egfr": data.get("egfr"),
            "creatinine": round(creatinine, 3) if creatinine else None,
            "creatinine_unit": MG_DL,
            "prior_cvd": patient.prior_cardiovascular_disease,
            "measured_on": data["measured_on"].isoformat() if data.get("measured_on") else None,
            "entered": {
                "cholesterol_unit": data.get("cholesterol_unit"),
                "creatinine_unit": data.get("creatinine_unit"),
            },
        }


def _implausible(name: str, value: float | None) -> str:
    low, high = PLAUSIBLE[name]
    if value is None or low <= value <= high:
        return ""
    return f"{value:g} is not a plausible value (expected {low}-{high} in the unit used)."


def resolve(inputs: Any, patient: PatientFacts) -> dict[str, Any]:
    """The resolved, JSON-safe panel the worker will run on, or InputError: malformed or implausible
    values, and panels no equation can assess (the worker's ``rule.assess`` decides, not a copy of it)."""
    resolved = validate(CvdRiskInputs, inputs, patient)
    _refuse_if_no_equation_applies(resolved)
    return resolved


def panel(resolved: dict[str, Any]) -> rule.RiskPanel:
    """The equations' view of a resolved panel (the worker builds the same one)."""
    return rule.RiskPanel(
        sex=resolved["sex"],
        age=resolved["age"],
        total_cholesterol_mg_dl=resolved["total_cholesterol"],
        hdl_cholesterol_mg_dl=resolved["hdl_cholesterol"],
        systolic_bp=resolved["systolic_bp"],
        bp_treated=resolved["bp_treated"],
        diabetic=resolved["diabetic"],
        smoker=resolved["smoker"],
        statin=resolved["statin"],
        egfr=resolved.get("egfr"),
        creatinine_mg_dl=resolved.get("creatinine"),
        bmi=resolved.get("bmi"),
        race=resolved.get("race"),
        prior_cvd=resolved.get("prior_cvd", False),
    )


def _refuse_if_no_equation_applies(resolved: dict[str, Any]) -> None:
    if resolved.get("prior_cvd") is None:
        raise InputError({"inputs": PRIOR_CVD_UNKNOWN})  # before the rule, which takes only True or False
    try:
        outcome = rule.assess(panel(resolved))
    except ValueError as error:
        raise InputError({"inputs": f"The risk-factor panel is not usable: {error}"}) from None
    if outcome.risk_score is not None:
        return
    if resolved.get("prior_cvd"):
        raise InputError(
            {
                "inputs": f"{rule.SECONDARY_PREVENTION_REASON} The patient's record lists prior cardiovascular "
                "disease; correct the record if that is wrong."
            }
        )
    reasons = no_equation_reason(outcome)
    if "egfr" in outcome.missing:
        raise InputError({"egfr": f"Needed for this patient: {reasons}"})
    raise InputError({"inputs": reasons})


def no_equation_reason(outcome: rule.CvdAssessment) -> str:
    parts = [f"{rule.EQUATION_NAMES[name]}: {why}" for name, why in outcome.not_applicable.items()]
    return "No risk equation applies to this patient. " + " ".join(parts)
