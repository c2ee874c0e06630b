"""Analyzers registered only under the test settings, to exercise the pipeline's failure paths."""

import time

from modalities.base import AnalysisError, AnalysisResult, Analyzer, BiomarkerSpec, InputError, StageSpec
from modalities.registry import register
from modalities.results import Score, ScoreScale

SLEEP_SCORE = ScoreScale(
    key="test_points",
    label="Test points (MediLens test rule)",
    unit="points",
    minimum=0,
    maximum=100,
    source="test",
    own_rule=True,
)


@register
class SleepAnalyzer(Analyzer):
    """Sleeps ``seconds`` in its middle stage: long enough to kill a worker mid-task."""

    name = "test_sleep"
    label = "Test: sleep"
    deadline_seconds = 60
    stages = (StageSpec("start", "Start"), StageSpec("sleep", "Sleep"), StageSpec("finish", "Finish"))
    catalogue = {"slept_seconds": BiomarkerSpec("slept_seconds", "Slept", "test", "s", "test")}

    def validate_inputs(self, *, inputs, patient):
        seconds = inputs.get("seconds", 0)
        if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 60:
            raise InputError({"seconds": "0-60"})
        return {"seconds": seconds, "fail": bool(inputs.get("fail")), "crash": bool(inputs.get("crash"))}

    def analyze(self, context):
        with context.stage("start"):
            pass
        with context.stage("sleep"):
            time.sleep(context.inputs["seconds"])
            if context.inputs["fail"]:
                raise AnalysisError("The test analyzer was asked to fail.")
            if context.inputs["crash"]:
                raise RuntimeError("crash requested")
        with context.stage("finish"):
            return AnalysisResult(
                method_version="test_sleep 1",
                score=Score(10.0, SLEEP_SCORE),
                risk_level="low",
                biomarkers={"slept_seconds": float(context.inputs["seconds"])},
                explanation_summary="slept",
            )
