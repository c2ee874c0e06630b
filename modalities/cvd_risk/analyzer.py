"""The cardiovascular-risk modality: a risk-factor panel in, PCE / PREVENT risk and advice out.

The equations live in ``modalities.cvd_risk`` (pure functions, cited and tested against the papers'
worked examples); this module is the analyzer around them: the input form (prefilled from the patient's
record, with units), its validation, the biomarker catalogue and the explanation.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from . import cvd_risk
from .base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, BiomarkerSpec, InputError, StageSpec
from .registry import register

MG_DL = "mg/dL"
MMOL_L = "mmol/L"
UMOL_L = "umol/L"

ATP3 = "NCEP ATP III (JAMA 2001;285:2486), Table II"
ACC_AHA_BP = "2017 ACC/AHA High Blood Pressure Guideline (Whelton et al., Hypertension 2018;71:e13), Table 6"
WHO_BMI = "WHO Technical Report Series 894 (2000): BMI categories"
KDIGO = "KDIGO 2012 CKD Guideline (Kidney Int Suppl 2013;3:1), GFR categories G1-G5"
GUIDE_2019 = "2019 ACC/AHA Primary Prevention Guideline (Arnett et al., Circulation 2019;140:e596): risk categories"

# These sources start a category at the upper limit itself (ATP III "borderline high 200-239", ACC/AHA
# "elevated 120-129", WHO "overweight 25-29.9", the guideline's "intermediate 7.5-19.9%, high >= 20%").
FROM_HIGH = frozenset({"reference_high"})

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "total_cholesterol", "Total cholesterol", "lipids", MG_DL, ATP3, reference_high=200, abnormal_at=FROM_HIGH
        ),
        BiomarkerSpec("hdl_cholesterol", "HDL cholesterol", "lipids", MG_DL, ATP3, reference_low=40),
        BiomarkerSpec(
            "non_hdl_cholesterol",
            "Non-HDL cholesterol",
            "lipids",
            MG_DL,
            ATP3,
            reference_high=130,
            abnormal_at=FROM_HIGH,
        ),
        BiomarkerSpec(
            "systolic_bp",
            "Systolic blood pressure",
            "blood_pressure",
            "mmHg",
            ACC_AHA_BP,
            reference_low=90,
            reference_high=120,
            critical_high=180,  # a hypertensive crisis is above 180, so 180 itself is not critical
            abnormal_at=FROM_HIGH,
        ),
        BiomarkerSpec(
            "bmi",
            "Body-mass index",
            "anthropometry",
            "kg/m2",
            WHO_BMI,
            reference_low=18.5,
            reference_high=25,
            abnormal_at=FROM_HIGH,
        ),
        BiomarkerSpec(
            "egfr", "eGFR (CKD-EPI 2021)", "kidney", "mL/min/1.73m2", KDIGO, reference_low=60, critical_low=15
        ),
        BiomarkerSpec(
            "pce_ascvd_10y",
            "10-year ASCVD risk (PCE)",
            "risk_estimate",
            "%",
            GUIDE_2019,
            reference_high=7.5,
            critical_high=20,
            abnormal_at=frozenset({"reference_high", "critical_high"}),
        ),
        BiomarkerSpec(
            "prevent_total_cvd_10y",
            "10-year total CVD risk (PREVENT)",
            "risk_estimate",
            "%",
            "Khan et al., Circulation 2024;149:430 (no guideline thresholds: shown for trend)",
        ),
        BiomarkerSpec(
            "prevent_ascvd_10y",
            "10-year ASCVD risk (PREVENT)",
            "risk_estimate",
            "%",
            "Khan et al., Circulation 2024;149:430 (no guideline thresholds: shown for trend)",
        ),
    ]
}

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
                value = cvd_risk.mmol_to_mg_dl_cholesterol(value)
            data[f"{field}_mg_dl"] = value
            self._plausible(field, f"{field}_mg_dl", value)
        tc, hdl = data.get("total_cholesterol_mg_dl"), data.get("hdl_cholesterol_mg_dl")
        if tc is not None and hdl is not None and hdl >= tc:
            self.add_error("hdl_cholesterol", "HDL cholesterol must be lower than total cholesterol.")
        creatinine = data.get("creatinine")
        if creatinine is not None and (data.get("creatinine_unit") or MG_DL) == UMOL_L:
            creatinine = cvd_risk.umol_to_mg_dl_creatinine(creatinine)
        data["creatinine_mg_dl"] = creatinine
        self._plausible("creatinine", "creatinine_mg_dl", creatinine)
        self._plausible("age", "age", data.get("age"))
        self._plausible("systolic_bp", "systolic_bp", data.get("systolic_bp"))
        self._plausible("bmi", "bmi", data.get("bmi"))
        self._plausible("egfr", "egfr", data.get("egfr"))
        return data


@register
class CvdRiskAnalyzer(Analyzer):
    name = "cvd_risk"
    no_confidence_reason = "Not applicable: the equations give a point estimate, with no per-patient confidence"
    label = "Cardiovascular risk"
    description = "10-year ASCVD risk (2013 Pooled Cohort Equations) and PREVENT total CVD / ASCVD risk."
    queue = "default"
    live_progress = False  # the equations take well under a millisecond
    deadline_seconds = 60
    stages = (
        StageSpec("validate", "Check the risk-factor panel"),
        StageSpec("equations", "Pooled Cohort and PREVENT equations"),
        StageSpec("explain", "Contributions and recommendations"),
    )
    catalogue = CATALOGUE
    form_class = CvdInputForm

    def initial_inputs(self, patient) -> dict[str, Any]:
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

    def validate_inputs(self, *, inputs: dict[str, Any], patient) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise InputError({"inputs": "Inputs must be a JSON object of risk factors."})
        unknown = sorted(set(inputs) - set(self.form_class.base_fields))
        if unknown:
            raise InputError({name: "Unknown input for cardiovascular risk." for name in unknown})
        type_errors = self._type_errors(inputs)
        if type_errors:
            raise InputError(type_errors)
        data = {**self.initial_inputs(patient), **{k: v for k, v in inputs.items() if v is not None}}
        form = self.form_class(data=data)
        if not form.is_valid():
            raise InputError({field: " ".join(errors) for field, errors in form.errors.items()})
        clean = form.cleaned_data
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

    # Django's form fields are lenient with types (any non-empty string is a true BooleanField, a number
    # reaches DateField.strip()); inputs also arrive as JSON, so the JSON types are checked first.
    _TEXT_BOOLEANS = {"true", "false", "on", "off", "1", "0", ""}

    def _type_errors(self, inputs: dict[str, Any]) -> dict[str, str]:
        errors = {}
        for name, value in inputs.items():
            if value is None:
                continue
            field = self.form_class.base_fields[name]
            if isinstance(field, forms.BooleanField):
                if not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in self._TEXT_BOOLEANS)):
                    errors[name] = "Enter true or false."
            elif isinstance(field, (forms.FloatField, forms.IntegerField)):
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    errors[name] = "Enter a number."
            elif not isinstance(value, str):
                is_date = isinstance(field, forms.DateField)
                errors[name] = "Enter text (a date as YYYY-MM-DD)." if is_date else "Enter text."
        return errors

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        inputs = context.inputs
        with context.stage("validate"):
            panel = cvd_risk.RiskPanel(
                sex=inputs["sex"],
                age=inputs["age"],
                total_cholesterol_mg_dl=inputs["total_cholesterol_mg_dl"],
                hdl_cholesterol_mg_dl=inputs["hdl_cholesterol_mg_dl"],
                systolic_bp=inputs["systolic_bp"],
                bp_treated=inputs["bp_treated"],
                diabetic=inputs["diabetic"],
                smoker=inputs["smoker"],
                statin=inputs["statin"],
                egfr=inputs.get("egfr"),
                creatinine_mg_dl=inputs.get("creatinine_mg_dl"),
                bmi=inputs.get("bmi"),
                race=inputs.get("race"),
                prior_cvd=inputs.get("prior_cvd", False),
            )
        with context.stage("equations"):
            try:
                outcome = cvd_risk.assess(panel)
            except ValueError as error:
                raise AnalysisError(f"The risk-factor panel is not usable: {error}") from None
            if outcome.risk_score is None:
                reasons = " ".join(f"{name.upper()}: {why}" for name, why in outcome.not_applicable.items())
                raise AnalysisError(f"No risk equation applies to this patient. {reasons}")
        with context.stage("explain"):
            biomarkers = {
                "total_cholesterol": inputs["total_cholesterol_mg_dl"],
                "hdl_cholesterol": inputs["hdl_cholesterol_mg_dl"],
                "non_hdl_cholesterol": round(inputs["total_cholesterol_mg_dl"] - inputs["hdl_cholesterol_mg_dl"], 2),
                "systolic_bp": inputs["systolic_bp"],
            }
            for name in ("pce_ascvd_10y", "prevent_total_cvd_10y", "prevent_ascvd_10y", "egfr"):
                if outcome.results.get(name) is not None:
                    biomarkers[name] = round(outcome.results[name], 2)
            if inputs.get("bmi") is not None:
                biomarkers["bmi"] = inputs["bmi"]
            summary = self._summary(outcome)
        return AnalysisResult(
            method_version=outcome.method_version,
            risk_score=round(outcome.risk_score, 2),
            risk_level=outcome.risk_level,
            # The equations give a point estimate with no per-patient confidence: none is invented.
            confidence=None,
            recommendations=outcome.recommendations,
            results={
                **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in outcome.results.items()},
                "headline_source": outcome.headline_source,
                "not_applicable": outcome.not_applicable,
                "notes": outcome.notes,
            },
            biomarkers=biomarkers,
            explanation_summary=summary,
            contributions=outcome.contributions,
            measured_at=self._measured_at(inputs.get("measured_on")),
        )

    @staticmethod
    def _measured_at(measured_on: str | None) -> datetime | None:
        if not measured_on:
            return None
        day = datetime.fromisoformat(measured_on).date()
        if day == timezone.localdate():
            return None  # today: the analysis time is the more precise stamp
        return timezone.make_aware(datetime.combine(day, time(12, 0)))

    @staticmethod
    def _summary(outcome) -> str:
        source = {"pce_ascvd_10y": "Pooled Cohort Equations", "prevent_ascvd_10y": "PREVENT"}[outcome.headline_source]
        parts = [f"10-year ASCVD risk {outcome.risk_score:.1f}% ({outcome.risk_level}) by the {source}."]
        adding = [c for c in outcome.contributions if c.get("contribution_points", 0) > 0.05]
        adding.sort(key=lambda c: -c["contribution_points"])
        if adding:
            top = ", ".join(
                f"{c['factor'].replace('_', ' ')} (+{c['contribution_points']:.1f} points)" for c in adding[:3]
            )
            parts.append(f"Modifiable factors adding most: {top}.")
        else:
            parts.append("No modifiable factor adds materially to this estimate.")
        return " ".join(parts)
