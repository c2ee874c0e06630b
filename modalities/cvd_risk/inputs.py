"""The cardiovascular-risk panel as submitted: one form validates the portal's fields and the API's
``inputs`` (units converted, implausible values refused), then ``resolve`` checks that an equation can run on
it, with the worker's own ``rule.assess``, so a request that can never succeed is a 400 naming the reason
instead of a 201 that fails later."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from modalities.base import InputError, PatientFacts

from . import rule
from .catalogue import MG_DL, MMOL_L, UMOL_L
from .equations import mmol_to_mg_dl_cholesterol, umol_to_mg_dl_creatinine

# Limits beyond which a value is not a measurement but a typo: refused at submission (400). Values inside
# these limits but outside an equation's validated range make that equation "not applicable" instead.
PLAUSIBLE = {
    "age": (18, 120),
    "total_cholesterol_mg_dl": (50, 1000),
    "hdl_cholesterol_mg_dl": (5, 300),
    "systolic_bp": (50, 300),
    "bmi": (10, 90),
    "egfr": (1, 200),
    "creatinine_mg_dl": (0.1, 25),
}


class CvdInputForm(forms.Form):
    """Validation of the panel, shared by the portal form and the API's ``inputs``."""

    age = forms.IntegerField(label="Age (years)", help_text="From the date of birth; override if needed.")
    sex = forms.ChoiceField(label="Sex at birth", choices=[("female", "Female"), ("male", "Male")])
    race = forms.ChoiceField(
        label="Race (Pooled Cohort Equations only)",
        required=False,
        choices=[
            ("", "Not recorded"),
            ("white", "White"),
            ("african_american", "African American"),
            ("other", "Other"),
        ],
        help_text="Used only by the 2013 PCE, which has separate African-American equations; "
        "other or unknown uses the white equations, as the guideline directs. PREVENT is race-free.",
    )
    total_cholesterol = forms.FloatField(label="Total cholesterol")
    hdl_cholesterol = forms.FloatField(label="HDL cholesterol")
    cholesterol_unit = forms.ChoiceField(label="Cholesterol unit", choices=[(MG_DL, MG_DL), (MMOL_L, MMOL_L)])
    systolic_bp = forms.FloatField(label="Systolic blood pressure (mmHg)")
    bp_treated = forms.BooleanField(label="On blood-pressure treatment", required=False)
    diabetic = forms.BooleanField(label="Diabetes", required=False)
    smoker = forms.BooleanField(label="Current smoker", required=False)
    statin = forms.BooleanField(label="On a statin", required=False)
    bmi = forms.FloatField(label="BMI (kg/m2)", required=False)
    egfr = forms.FloatField(label="eGFR (mL/min/1.73m2)", required=False, help_text="Or give serum creatinine.")
    creatinine = forms.FloatField(label="Serum creatinine", required=False)
    creatinine_unit = forms.ChoiceField(
        label="Creatinine unit", required=False, choices=[(MG_DL, MG_DL), (UMOL_L, UMOL_L)]
    )
    measured_on = forms.DateField(
        label="Date measured", required=False, help_text="When the panel was measured (default: today)."
    )

    def clean_measured_on(self):
        value = self.cleaned_data.get("measured_on")
        if value is not None and value > timezone.localdate():
            raise forms.ValidationError("The measurement date is in the future.")
        return value

    def _plausible(self, field: str, key: str, value: float | None) -> None:
        if value is None:
            return
        low, high = PLAUSIBLE[key]
        if not low <= value <= high:
            self.add_error(field, f"{value:g} is not a plausible value (expected {low}-{high} in the unit used).")

    def clean(self):
        data = super().clean()
        unit = data.get("cholesterol_unit") or MG_DL
        for field in ("total_cholesterol", "hdl_cholesterol"):
            value = data.get(field)
            if value is not None and unit == MMOL_L:
                value = mmol_to_mg_dl_cholesterol(value)
            data[f"{field}_mg_dl"] = value
            self._plausible(field, f"{field}_mg_dl", value)
        tc, hdl = data.get("total_cholesterol_mg_dl"), data.get("hdl_cholesterol_mg_dl")
        if tc is not None and hdl is not None and hdl >= tc:
            self.add_error("hdl_cholesterol", "HDL cholesterol must be lower than total cholesterol.")
        creatinine = data.get("creatinine")
        if creatinine is not None and (data.get("creatinine_unit") or MG_DL) == UMOL_L:
            creatinine = umol_to_mg_dl_creatinine(creatinine)
        data["creatinine_mg_dl"] = creatinine
        self._plausible("creatinine", "creatinine_mg_dl", creatinine)
        self._plausible("age", "age", data.get("age"))
        self._plausible("systolic_bp", "systolic_bp", data.get("systolic_bp"))
        self._plausible("bmi", "bmi", data.get("bmi"))
        self._plausible("egfr", "egfr", data.get("egfr"))
        return data


def initial_inputs(patient: PatientFacts) -> dict[str, Any]:
    """Form defaults from the patient's record (the portal prefills with them; the API's omitted fields)."""
    initial = {
        "age": patient.age,
        "bp_treated": patient.treated_hypertension,
        "diabetic": patient.has_diabetes,
        "smoker": patient.current_smoker,
        "statin": patient.on_statin,
        "cholesterol_unit": MG_DL,
        "creatinine_unit": MG_DL,
    }
    if patient.sex_at_birth in ("female", "male"):
        initial["sex"] = patient.sex_at_birth
    if patient.bmi is not None:
        initial["bmi"] = patient.bmi
    return initial


def resolve(inputs: Any, patient: PatientFacts) -> dict[str, Any]:
    """The resolved, JSON-safe panel the worker will run on, or InputError: malformed or implausible
    values, and panels no equation can assess (the worker's ``rule.assess`` decides, not a copy of it)."""
    if not isinstance(inputs, dict):
        raise InputError({"inputs": "Inputs must be a JSON object of risk factors."})
    unknown = sorted(set(inputs) - set(CvdInputForm.base_fields))
    if unknown:
        raise InputError({name: "Unknown input for cardiovascular risk." for name in unknown})
    type_errors = _type_errors(inputs)
    if type_errors:
        raise InputError(type_errors)
    data = {**initial_inputs(patient), **{k: v for k, v in inputs.items() if v is not None}}
    form = CvdInputForm(data=data)
    if not form.is_valid():
        raise InputError({field: " ".join(errors) for field, errors in form.errors.items()})
    resolved = _resolved(form.cleaned_data, patient)
    _refuse_if_no_equation_applies(resolved)
    return resolved


def _resolved(clean: dict[str, Any], patient: PatientFacts) -> dict[str, Any]:
    return {
        "age": clean["age"],
        "sex": clean["sex"],
        "race": clean.get("race") or None,
        "total_cholesterol_mg_dl": round(clean["total_cholesterol_mg_dl"], 2),
        "hdl_cholesterol_mg_dl": round(clean["hdl_cholesterol_mg_dl"], 2),
        "systolic_bp": clean["systolic_bp"],
        "bp_treated": clean["bp_treated"],
        "diabetic": clean["diabetic"],
        "smoker": clean["smoker"],
        "statin": clean["statin"],
        "bmi": clean.get("bmi"),
        "egfr": clean.get("egfr"),
        "creatinine_mg_dl": round(clean["creatinine_mg_dl"], 3) if clean.get("creatinine_mg_dl") else None,
        "prior_cvd": patient.prior_cardiovascular_disease,
        "measured_on": clean["measured_on"].isoformat() if clean.get("measured_on") else None,
        "entered": {
            "cholesterol_unit": clean.get("cholesterol_unit"),
            "creatinine_unit": clean.get("creatinine_unit"),
        },
    }


def panel(resolved: dict[str, Any]) -> rule.RiskPanel:
    """The equations' view of a resolved panel (the worker builds the same one)."""
    return rule.RiskPanel(
        sex=resolved["sex"],
        age=resolved["age"],
        total_cholesterol_mg_dl=resolved["total_cholesterol_mg_dl"],
        hdl_cholesterol_mg_dl=resolved["hdl_cholesterol_mg_dl"],
        systolic_bp=resolved["systolic_bp"],
        bp_treated=resolved["bp_treated"],
        diabetic=resolved["diabetic"],
        smoker=resolved["smoker"],
        statin=resolved["statin"],
        egfr=resolved.get("egfr"),
        creatinine_mg_dl=resolved.get("creatinine_mg_dl"),
        bmi=resolved.get("bmi"),
        race=resolved.get("race"),
        prior_cvd=resolved.get("prior_cvd", False),
    )


def _refuse_if_no_equation_applies(resolved: dict[str, Any]) -> None:
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


# Django's form fields are lenient with types (any non-empty string is a true BooleanField, a number
# reaches DateField.strip()); inputs also arrive as JSON, so the JSON types are checked first.
_TEXT_BOOLEANS = {"true", "false", "on", "off", "1", "0", ""}


def _type_errors(inputs: dict[str, Any]) -> dict[str, str]:
    errors = {}
    for name, value in inputs.items():
        if value is None:
            continue
        field = CvdInputForm.base_fields[name]
        if isinstance(field, forms.BooleanField):
            if not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in _TEXT_BOOLEANS)):
                errors[name] = "Enter true or false."
        elif isinstance(field, (forms.FloatField, forms.IntegerField)):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                errors[name] = "Enter a number."
        elif not isinstance(value, str):
            is_date = isinstance(field, forms.DateField)
            errors[name] = "Enter text (a date as YYYY-MM-DD)." if is_date else "Enter text."
    return errors
