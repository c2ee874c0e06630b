"""What a chest X-ray result says its score is: the model's probability of an abnormal film, in %, at the model
version's operating point, naming the model; a reference model's result says it is not for clinical use. A
stand-in model gives known probabilities, so every number here is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modalities.radiology import catalogue, rule
from modalities.tests import generated_images as generated
from modalities.tests.test_radiology import ANALYZER, StubModel, context_for, stored_dicom


@pytest.fixture
def stub_model(monkeypatch):
    from modalities import runtime

    def install(probabilities, **options):
        model = StubModel(probabilities, **options)
        monkeypatch.setattr(runtime, "active_model", lambda modality, organization_id: model.version)
        monkeypatch.setattr(runtime, "load", lambda version: model)
        return model

    return install


@pytest.fixture(scope="module")
def film() -> bytes:
    return stored_dicom(generated.chest_film(np.random.default_rng(21), height=320))


def analysed(film, stub_model, probabilities, **options):
    stub_model(probabilities, **options)
    result = ANALYZER.analyze(context_for(film)[0])
    result.check(ANALYZER.modality.catalogue)
    json.dumps(result.document())
    return result


def test_the_headline_is_the_probability_of_an_abnormal_film_at_the_versions_operating_point(film, stub_model):
    result = analysed(film, stub_model, {"no_finding": 0.35, "opacity": 0.65}, threshold=0.6, is_reference=False)
    scale = result.score.scale
    assert (scale.key, scale.label, scale.unit) == (
        "p_abnormal",
        "Probability of an abnormal film (stub_cxr 0.1.0)",
        "%",
    )
    assert (scale.minimum, scale.maximum, scale.own_rule) == (0, 100, False)
    assert scale.bands.starts == ((60.0, "high"),)
    assert "operating point of model stub_cxr 0.1.0" in scale.bands.source and "stub_cxr 0.1.0" in scale.source
    assert (result.score.value, result.risk_level) == (65.0, "high")
    assert result.document()["score"]["bands"] == "< 60 % low, >= 60 % high"
    assert scale.note == "" and not any("reference model" in note for note in result.notes)
    (threshold,) = [item for item in result.measurements if item.name == "decision_threshold"]
    assert (threshold.value, threshold.unit) == (60.0, "%") and "operating point" in threshold.label


def test_a_reference_models_result_says_it_is_not_for_clinical_use(film, stub_model):
    result = analysed(film, stub_model, {"no_finding": 0.8, "opacity": 0.2}, threshold=0.5, is_reference=True)
    assert "reference model, not for clinical use" in result.notes[0]
    assert "reference model, not for clinical use" in result.score.scale.note
    assert result.details["model"]["is_reference"] is True
    assert any("not for clinical use" in item["text"] for item in result.recommendations)


def test_a_version_without_a_threshold_is_read_at_medilens_default_and_says_so(film, stub_model):
    result = analysed(film, stub_model, {"no_finding": 0.45, "opacity": 0.55}, threshold=None, is_reference=False)
    assert result.risk_level == "high" and result.score.scale.bands.starts == ((50.0, "high"),)
    assert "MediLens" in result.score.scale.note and "0.5" in result.score.scale.note
    assert "MediLens's own default" in result.score.scale.bands.source
    assert result.details["decision_threshold_stated"] is False


def test_contributions_are_each_findings_share_of_the_score_in_percent(film, stub_model):
    result = analysed(film, stub_model, {"no_finding": 0.5, "opacity": 0.3, "cardiomegaly": 0.2})
    assert [(item.factor, item.change, item.current_unit) for item in result.contributions] == [
        ("opacity_probability", 30.0, "probability"),
        ("cardiomegaly_probability", 20.0, "probability"),
    ]
    assert sum(item.change for item in result.contributions) == result.score.value == 50.0


@pytest.mark.parametrize(
    ("no_finding", "level", "flag"),
    [(0.3, "high", "low"), (0.30004, "high", "low"), (0.30006, "low", "normal"), (0.2999, "high", "low")],
)
def test_at_the_operating_point_the_level_the_bands_and_the_flag_are_one_comparison(
    film, stub_model, no_finding, level, flag
):
    # Threshold 0.7: P(no_finding) is stored with 4 decimals, and the score, the level and the flag read it as stored.
    result = analysed(film, stub_model, {"no_finding": no_finding, "opacity": 1 - no_finding}, threshold=0.7)
    stored = result.biomarkers["no_finding_probability"]
    assert result.score.value == pytest.approx(100 * (1 - stored), abs=1e-9)
    assert result.risk_level == level == result.score.scale.bands.level(result.score.value)
    assert result.specs(ANALYZER.modality.catalogue)["no_finding_probability"].flag(stored) == flag


def test_without_no_finding_the_score_is_withheld_with_the_reason(film, stub_model):
    result = analysed(film, stub_model, {"cardiomegaly": 0.6, "edema": 0.4})
    assert result.score is None and result.risk_level == "" and result.contributions == []
    assert "no 'no_finding' output" in result.score_withheld
    assert result.document()["score_withheld"] == result.score_withheld


def test_every_catalogue_entry_states_its_precision():
    precision = {name: spec.decimals for name, spec in catalogue.CATALOGUE.items()}
    assert precision.pop("deviation_index") == 2 and precision.pop("rms_contrast") == 3
    assert precision.pop("black_clipping") == precision.pop("white_clipping") == 2
    assert set(precision.values()) == {rule.PROBABILITY_DECIMALS} == {4}
