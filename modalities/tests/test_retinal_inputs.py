"""Retinal inputs and results: a photo that is not a fundus photograph gets no retinal score (refusals), fundus
photos of a generator independent of ``modalities.retinal.synthetic`` are not refused (false refusals), and the
typed result says what its score is (MediLens's own rule) and cites its measure honestly.

The pictures come from ``generated_images`` (a circular bright field on black, a bright optic disc, branching
dark vessels drawn with Pillow; skin, chest films, pages) and from scikit-image's sample images. What the check
is and why its thresholds are what they are: ``modalities/retinal/suitability.py``.
"""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pytest
import skimage.data

from modalities import registry
from modalities.base import AnalysisError, InputError
from modalities.retinal import catalogue, explain, rule, suitability
from modalities.retinal.quality import Quality
from modalities.tests import generated_images as generated
from modalities.tests.test_retinal import analyze, jpeg, png, real_fundus, upload

ANALYZER = registry.get("retinal")
REFUSAL = "this does not look like a fundus photograph"


def upload_verdict(data: bytes, content_type: str = "image/png"):
    """prepare_files on the bytes: None when accepted, else the refusal."""
    from assessments.uploads import PreparedUpload

    prepared = PreparedUpload("photo", content_type, "png", len(data), "0" * 64, "0" * 64, io.BytesIO(data))
    try:
        ANALYZER.prepare_files([prepared])
    except InputError as error:
        return error.errors["files"]
    return None


def rgb(picture) -> np.ndarray:
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array


# --- false refusals ---------------------------------------------------------------------------------------------
def test_fundus_photos_of_an_independent_generator_are_accepted():
    rng = np.random.default_rng(90)
    refused = []
    for index in range(12):
        photo = generated.fundus_photo(rng, height=int(rng.integers(560, 800)), red_free=index % 4 == 1)
        data = jpeg(photo) if index % 3 == 2 else png(photo)
        verdict = upload_verdict(data, "image/jpeg" if index % 3 == 2 else "image/png")
        if verdict:
            refused.append((index, verdict))
    assert refused == []


def test_a_fundus_photo_cut_inside_its_field_is_accepted_by_its_optic_disc():
    # No black surround left (a crop inside the field): the optic disc alone carries the photo.
    photo = generated.fundus_photo(np.random.default_rng(3), height=1000, truncated=False)
    height, width = photo.shape[:2]
    crop = photo[height // 2 - 300 : height // 2 + 300, width // 2 - 380 : width // 2 + 380]
    evidence = suitability.examine(suitability.thumbnail(png(crop)))
    assert not evidence.circular_field and evidence.optic_disc, evidence
    assert upload_verdict(png(crop)) is None


def test_independent_fundus_photos_are_analysed_and_scored():
    for seed, red_free in ((40, False), (41, True)):
        result = analyze(png(generated.fundus_photo(np.random.default_rng(seed), red_free=red_free)))
        assert result.score is not None and result.risk_level
        assert result.details["input_check"]["circular_field"] and result.details["input_check"]["optic_disc_seen"]


def test_the_real_sample_fundus_photo_shows_both_a_circular_field_and_a_disc():
    evidence = suitability.examine(suitability.thumbnail(jpeg(real_fundus())))
    assert evidence.circular_field and evidence.optic_disc, evidence.as_details()


# --- refusals ---------------------------------------------------------------------------------------------------
def _refused(pictures):
    return [upload_verdict(png(rgb(picture))) for picture in pictures]


def test_skin_photos_are_refused_at_upload():
    rng = np.random.default_rng(91)
    verdicts = _refused(generated.skin_photo(rng, height=int(rng.integers(560, 800))) for _ in range(6))
    assert all(verdict and REFUSAL in verdict for verdict in verdicts), verdicts


def test_chest_films_are_refused_at_upload():
    rng = np.random.default_rng(92)
    verdicts = _refused(generated.chest_film(rng, height=int(rng.integers(560, 800))) for _ in range(6))
    assert all(verdict and REFUSAL in verdict for verdict in verdicts), verdicts


def test_documents_and_photographs_are_refused_at_upload():
    rng = np.random.default_rng(93)
    pictures = [generated.document(rng, height=900, colour=True) for _ in range(3)]
    pictures += [generated.colour_photo(rng, height=600) for _ in range(3)]  # a sun in the sky is no optic disc
    pictures += [skimage.data.astronaut(), skimage.data.camera()]
    verdicts = _refused(pictures)
    assert all(verdict and REFUSAL in verdict for verdict in verdicts), verdicts


def test_a_stored_skin_photo_fails_the_analysis_never_a_score():
    """Stored before the check existed: the analysis refuses it with the same reason."""
    skin = png(generated.skin_photo(np.random.default_rng(94), height=700))
    with pytest.raises(AnalysisError, match=r"^This does not look like a fundus photograph: it shows no circular"):
        analyze(skin)


@pytest.mark.django_db
def test_a_skin_photo_sent_as_a_fundus_photo_is_a_400_and_nothing_is_stored(tenant_a):
    from accounts.tenancy import organization_scope, scopes_disabled
    from assessments import services
    from assessments.models import Assessment, UploadedFile

    with organization_scope(tenant_a.organization):
        patient = services.create_patient(
            actor="system:test",
            organization=tenant_a.organization,
            consent=True,
            mrn="RET-2",
            given_name="Ada",
            family_name="Example",
            date_of_birth=date(1966, 5, 1),
            sex_at_birth="female",
        )
    response = upload(tenant_a, patient, "mole.jpg", jpeg(generated.skin_photo(np.random.default_rng(95))))
    assert response.status_code == 400, response.content[:500]
    assert REFUSAL in " ".join(response.json()["error"]["fields"]["files"])
    with scopes_disabled():
        assert not Assessment.objects.exists() and not UploadedFile.objects.exists()


# --- what the score is --------------------------------------------------------------------------------------------
def test_the_score_says_it_is_medilens_own_rule_in_points_with_its_bands():
    result = analyze(jpeg(real_fundus()), "image/jpeg")
    scale = result.score.scale
    assert scale.own_rule and "MediLens" in scale.label and scale.unit == "points"
    assert (scale.minimum, scale.maximum, scale.decimals) == (0, 100, 0)
    assert scale.bands.describe("points") == (
        "< 25 points low, >= 25 to < 50 points borderline, >= 50 to < 75 points intermediate, >= 75 points high"
    )
    stored = result.document()
    assert stored["score"]["value"] == 0 and stored["score"]["own_rule"] is True
    assert {item["name"] for item in stored["not_applicable"]} == {"arteriole_venule_ratio"}
    json.dumps(stored)


def test_contributions_are_in_points_and_the_levels_are_unchanged():
    points, level, contributions = rule.risk(density=6.0, tortuosity_mean=1.25)
    assert (points, level) == (75, "high")
    assert [(item.factor, item.change, item.current, item.current_unit) for item in contributions] == [
        ("vessel_tortuosity", 50, 1.25, "ratio"),
        ("vessel_density", 25, 6.0, "%"),
    ]
    assert all("MediLens" in item.source for item in contributions)
    for score, expected in ((0, "low"), (25, "borderline"), (50, "intermediate"), (75, "high"), (100, "high")):
        assert rule.BANDS.level(score) == expected


def test_the_tortuosity_finding_cites_its_measure_and_states_the_blood_pressure_direction_honestly():
    sharp = Quality(focus=14.0, contrast=20.0, brightness=90.0, dark_fraction=0.0, bright_fraction=0.0, problems=[])
    points, _, contributions = rule.risk(density=10.0, tortuosity_mean=1.25)
    items = explain.recommendations(
        sharp, density=10.0, tortuosity=1.25, points={item.factor: item.change for item in contributions}
    )
    (finding,) = [item for item in items if item["text"].startswith("Vessel tortuosity")]
    assert points == 50 and "MediLens's own screening threshold of 1.10" in finding["text"]
    assert "Hart et al., Int J Med Inform 1999" in finding["source"]
    assert "less tortuous arterioles" in finding["source"]  # Cheung et al.'s finding, as it is
    assert "associated with blood pressure" not in finding["text"]
    assert "Cheung" not in catalogue.CATALOGUE["vessel_tortuosity"].source


def test_every_catalogue_entry_states_its_precision_and_no_range():
    assert {name: spec.decimals for name, spec in catalogue.CATALOGUE.items()} == {
        "vessel_density": 2,
        "vessel_tortuosity": 3,
    }
    assert all("no established reference range" in spec.source for spec in catalogue.CATALOGUE.values())


def test_the_workers_import_path_does_not_import_the_demo_generators():
    """The worker imports every analyzer (modalities.apps); the generators are for the demo and the tests."""
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup(); import modalities.retinal, modalities.radiology; "
        "loaded = sorted(m for m in sys.modules if m.endswith(('retinal.synthetic', 'radiology.demo')) "
        "or 'build_reference_model' in m); print(loaded); sys.exit(1 if loaded else 0)"
    )
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
