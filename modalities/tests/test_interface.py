"""The analyzer interface: a registered analyzer is a Modality and three operations, and the worker's import path
never loads a modality's demo generator."""

import os
import subprocess
import sys

import pytest

from modalities import registry
from modalities.base import Analyzer, Modality, StageSpec


def test_every_analyzer_is_a_modality_and_three_operations():
    for name in registry.names():
        analyzer = registry.get(name)
        assert isinstance(analyzer.modality, Modality) and analyzer.modality.name == name
        assert analyzer.modality.stages and analyzer.modality.catalogue, name
        public = {attribute for attribute in dir(analyzer) if not attribute.startswith("_")}
        assert public == {"modality", "validate_inputs", "prepare_files", "analyze"}, (name, public)


def test_the_registry_refuses_an_analyzer_without_a_modality_stages_or_a_unique_name():
    class Bare(Analyzer):
        pass

    with pytest.raises(ValueError, match="declares no Modality"):
        registry.register(Bare)

    def analyzer(name, stages):
        return type("Made", (Analyzer,), {"modality": Modality(name, "Made", "", stages, {})})

    with pytest.raises(ValueError, match="no stages"):
        registry.register(analyzer("made_up", ()))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(analyzer("cvd_risk", (StageSpec("a", "A"),)))
    assert "made_up" not in registry.names()


def test_a_modality_is_frozen():
    with pytest.raises(AttributeError):
        registry.get("speech").modality.label = "Something else"


WORKER_PATH = """
import sys, django
django.setup()
import assessments.tasks, assessments.pipeline  # the worker's modules (it imports every analyzer at start-up)
from contextlib import nullcontext
from modalities import registry
from modalities.base import AnalysisContext, PatientFacts

facts = PatientFacts(age=55, sex_at_birth="male", bmi=None, has_diabetes=False, treated_hypertension=False,
                     current_smoker=False, on_statin=False, prior_cardiovascular_disease=False)
panel = {"sex": "male", "total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120, "egfr": 90}
words = ["candle", "bucket", "ladder", "onion", "blanket"]
battery = {"reaction_time": {"trials": [{"foreperiod_ms": 2000, "rt_ms": 300}] * 5},
           "digit_span": {"forward": [{"presented": [1, 2, 3], "response": [1, 2, 3]}]},
           "word_recall": {"words": words, "delayed": words[:2], "delay_ms": 300000}}
for name, inputs in (("cvd_risk", panel), ("cognitive", battery)):
    analyzer = registry.get(name)
    resolved = analyzer.validate_inputs(inputs=inputs, patient=facts)
    analyzer.analyze(AnalysisContext(inputs=resolved, files=[], patient=facts, stage=lambda stage: nullcontext()))
generators = {registry.get(name).modality.demo_module for name in registry.names()} - {""}
print(sorted(generators & set(sys.modules)))
for name in ("cvd_risk", "cognitive"):
    registry.demo_cases(name)
print(sorted(generators & set(sys.modules)))
"""


def test_the_workers_path_never_imports_a_demo_generator():
    """Every analyzer is imported and the two structured-input analyses run, as in a worker: no modality's demo
    module is loaded; asking the registry for demo cases is what loads them."""
    finished = subprocess.run(
        [sys.executable, "-c", WORKER_PATH],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings"},
    )
    assert finished.returncode == 0, finished.stderr
    before, after = finished.stdout.strip().splitlines()[-2:]
    assert before == "[]"
    assert after == "['modalities.cognitive.synthetic', 'modalities.cvd_risk.synthetic']"


def test_every_modality_names_a_demo_generator_that_makes_valid_inputs():
    from modalities.base import PatientFacts

    facts = PatientFacts(age=60, sex_at_birth="female", bmi=None, has_diabetes=False, treated_hypertension=False,
                         current_smoker=False, on_statin=False, prior_cardiovascular_disease=False)  # fmt: skip
    for name in registry.names():
        module = registry.get(name).modality.demo_module
        if name.startswith("test_"):
            continue
        assert module.startswith(f"modalities.{name}."), name
        if not registry.get(name).modality.accepted_types:  # structured inputs only: cheap to check here
            for case in registry.demo_cases(name):
                registry.get(name).validate_inputs(inputs=dict(case.inputs), patient=facts)
