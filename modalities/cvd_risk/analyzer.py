"""The cardiovascular-risk analyzer: a risk-factor panel in (prefilled from the patient's record); the
Pooled Cohort Equations' 10-year ASCVD risk (or PREVENT's where the PCE do not apply), the guideline's
risk category, what each modifiable factor adds, and advice out.

The equations are in ``equations`` (coefficients in ``coefficients.json``), the choice between them and the
categories in ``rule``, the form in ``inputs``, the catalogue and score scales in ``catalogue``.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone

from modalities.base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, Modality, StageSpec
from modalities.registry import register
from modalities.results import Score

from . import explain, rule
from . import inputs as panel_inputs
from .catalogue import CATALOGUE, SCORES

# The panel's values the worker stores as biomarkers, by the same names (the risks and eGFR come from the outcome).
PANEL_BIOMARKERS = ("total_cholesterol", "hdl_cholesterol", "systolic_bp", "bmi")
OUTCOME_BIOMARKERS = ("pce_ascvd_10y", "prevent_total_cvd_10y", "prevent_ascvd_10y", "egfr")


@register
class CvdRiskAnalyzer(Analyzer):
    modality = Modality(
        name="cvd_risk",
        label="Cardiovascular risk",
        description="10-year ASCVD risk (2013 Pooled Cohort Equations) and PREVENT total CVD / ASCVD risk.",
        stages=(
            StageSpec("validate", "Check the risk-factor panel"),
            StageSpec("equations", "Pooled Cohort and PREVENT equations"),
            StageSpec("explain", "Contributions and recommendations"),
        ),
        catalogue=CATALOGUE,
        live_progress=False,  # the equations take well under a millisecond
        deadline_seconds=60,
        no_confidence_reason="Not applicable: the equations give a point estimate, with no per-patient confidence",
        input_schema=panel_inputs.CvdRiskInputs,
        demo_module="modalities.cvd_risk.synthetic",
    )

    def validate_inputs(self, *, inputs: Any, patient, history=None) -> dict[str, Any]:
        return panel_inputs.resolve(inputs, patient)

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        resolved = context.inputs
        with context.stage("validate"):
            panel = panel_inputs.panel(resolved)
        with context.stage("equations"):
            try:
                outcome = rule.assess(panel)
            except ValueError as error:
                raise AnalysisError(f"The risk-factor panel is not usable: {error}") from None
            if outcome.risk_score is None:
                raise AnalysisError(panel_inputs.no_equation_reason(outcome))
        with context.stage("explain"):
            scale = SCORES[outcome.headline_source]
            biomarkers = {name: resolved[name] for name in PANEL_BIOMARKERS if resolved.get(name) is not None}
            biomarkers["non_hdl_cholesterol"] = resolved["total_cholesterol"] - resolved["hdl_cholesterol"]
            biomarkers.update({n: outcome.results[n] for n in OUTCOME_BIOMARKERS if outcome.results.get(n) is not None})
            return AnalysisResult(
                method_version=outcome.method_version,
                score=Score(outcome.risk_score, scale),
                risk_level=outcome.risk_level,
                # The equations give a point estimate with no per-patient confidence: none is invented.
                confidence=None,
                recommendations=outcome.recommendations,
                biomarkers=biomarkers,
                not_applicable=explain.not_applicable(outcome),
                notes=outcome.notes,
                details={**outcome.results, "headline": outcome.headline_source},
                explanation_summary=explain.summary(outcome, scale, outcome.risk_level),
                contributions=explain.contributions(outcome),
                measured_at=_measured_at(resolved.get("measured_on")),
            )


def _measured_at(measured_on: str | None) -> datetime | None:
    if not measured_on:
        return None
    day = datetime.fromisoformat(measured_on).date()
    if day == timezone.localdate():
        return None  # today: the analysis time is the more precise stamp
    return timezone.make_aware(datetime.combine(day, time(12, 0)))
