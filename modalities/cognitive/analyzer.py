"""The cognitive analyzer: the battery's raw responses in (checked against ``inputs.RESPONSES_SCHEMA``); reaction
time, digit span and word recall scores, the screening rule's level and a summary out."""

from __future__ import annotations

from typing import Any

from ..base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, InputError, Modality, StageSpec
from ..registry import register
from . import explain
from .catalogue import CATALOGUE
from .inputs import CognitiveInputs, validate_responses
from .scoring import score_digit_span, score_reaction_time, score_recall


@register
class CognitiveAnalyzer(Analyzer):
    modality = Modality(
        name="cognitive",
        label="Cognitive battery",
        description=(
            "Simple reaction time, digit span and delayed word recall, done by the patient in the portal's patient "
            "mode (or sent as raw responses through the API) and scored from the raw responses."
        ),
        stages=(
            StageSpec("validate", "Check the raw responses"),
            StageSpec("score", "Score reaction time, digit span and word recall"),
            StageSpec("interpret", "Screening rule and summary"),
        ),
        catalogue=CATALOGUE,
        live_progress=False,  # scoring the battery takes about a millisecond
        deadline_seconds=30,
        no_confidence_reason="Not applicable: a scoring rule on the test results, not a probability",
        input_schema=CognitiveInputs,
        demo_module="modalities.cognitive.synthetic",
    )

    def validate_inputs(self, *, inputs: Any, patient, history=None) -> dict[str, Any]:
        return validate_responses(inputs)

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        with context.stage("validate"):
            try:
                inputs = validate_responses(context.inputs)
            except InputError as error:  # stored inputs are validated at submission; this guards old rows
                raise AnalysisError(f"The stored responses are not usable: {error}") from None
        with context.stage("score"):
            span, recall = inputs["digit_span"], inputs["word_recall"]
            scores = explain.Scores(
                rt=score_reaction_time(inputs["reaction_time"]["trials"]),
                forward=score_digit_span(span["forward"]),
                backward=score_digit_span(span["backward"], backward=True) if span.get("backward") else None,
                immediate=score_recall(recall["words"], recall["immediate"]) if "immediate" in recall else None,
                delayed=score_recall(recall["words"], recall["delayed"]),
            )
        with context.stage("interpret"):
            return explain.result(inputs, scores)
