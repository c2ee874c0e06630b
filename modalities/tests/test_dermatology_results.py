"""Dermatology's typed result: the headline is the Stolz TDS itself in TDS points (or the count of positive
ABCD(E) criteria, MediLens's own rule), its flag and risk level read in the same categories, the
contributions add up to the headline, and what could not be assessed says why.

The truth comes from how each photo is drawn (``dermatology_photos``): a disc cut into a dark-brown and a
black half is mirror-symmetric in shape, asymmetric in colour about one axis (A 1), sharp-edged all round
(B 8) and two-coloured (C 2); D is the count the test enters.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from modalities.base import AnalysisError, AnalysisResult, rounded
from modalities.dermatology.catalogue import CATALOGUE, OPERATING, TDS_BANDS
from modalities.dermatology.rule import CHECKLIST_SCALE, TDS_SCALE, abcd_checklist
from modalities.results import Score
from modalities.tests.dermatology_photos import (
    BLACK,
    DARK_BROWN,
    LIGHT_BROWN,
    analyze,
    disc,
    render,
    sectors,
    star_points,
)

HALVES = render(sectors([DARK_BROWN, BLACK], radius=100, start=90))  # A 1, B 8, C 2; 200 px across


@pytest.mark.parametrize(
    ("structures", "tds", "level", "flag"),
    [
        (1, 3.6, "low", "normal"),  # 1.3 + 0.8 + 1.0 + 0.5
        (3, 4.6, "low", "normal"),  # + 1.0: still under 4.75
        (4, 5.1, "intermediate", "intermediate"),  # suspicious: 4.75-5.45
        (5, 5.6, "high", "high"),  # highly suspicious: > 5.45
    ],
)
def test_the_headline_is_the_tds_in_points_read_in_stolzs_bands(structures, tds, level, flag):
    result = analyze(HALVES, {"image_type": "dermoscopy", "pixels_per_mm": 20, "dermoscopic_structures": structures})
    assert result.score.scale is TDS_SCALE and result.score.value == pytest.approx(tds, abs=1e-9)
    assert result.risk_score == tds and result.risk_level == level
    assert result.biomarkers["total_dermoscopy_score"] == tds
    assert CATALOGUE["total_dermoscopy_score"].flag(tds) == flag
    stored = result.document()["score"]
    assert (stored["key"], stored["unit"], stored["value"]) == ("stolz_tds", "points", tds)
    assert (stored["minimum"], stored["maximum"]) == (1.0, 8.9) and not stored["own_rule"]
    assert "Stolz" in stored["source"] and "Nachbar" in stored["source"]


def test_tds_contributions_are_each_terms_weighted_points_and_add_up_to_the_tds():
    result = analyze(HALVES, {"image_type": "dermoscopy", "pixels_per_mm": 20, "dermoscopic_structures": 3})
    changes = {row.factor: row.change for row in result.contributions}
    assert changes == {
        "lesion_asymmetry_score": 1.3,  # 1.3 x A 1
        "border_abrupt_segments": 0.8,  # 0.1 x B 8
        "colour_count": 1.0,  # 0.5 x C 2
        "dermoscopic_structures": 1.5,  # 0.5 x D 3
    }
    assert sum(changes.values()) == pytest.approx(result.score.value)
    assert {row.current for row in result.contributions} == {1, 8, 2, 3}


def test_the_tds_bands_put_each_threshold_where_stolz_puts_it():
    assert [TDS_BANDS.level(v) for v in (4.7, 4.75, 5.45, 5.5)] == ["low", "intermediate", "intermediate", "high"]
    assert TDS_SCALE.bands is TDS_BANDS and TDS_SCALE.biomarker == "total_dermoscopy_score"
    spec = CATALOGUE["total_dermoscopy_score"]
    assert spec.bands is TDS_BANDS and spec.unit == TDS_SCALE.unit == "points"
    assert spec.reference_high is None and spec.critical_high is None
    assert TDS_BANDS.describe("points") == (
        "< 4.75 points low, >= 4.75 to <= 5.45 points intermediate, > 5.45 points high"
    )


def test_an_evolving_lesion_with_a_benign_tds_is_raised_to_intermediate_and_says_why():
    previous = {"measured_at": "2025-06-01T00:00:00+00:00", "diameter_mm": 10.0, "area_mm2": 78.5}
    inputs = {"image_type": "dermoscopy", "pixels_per_mm": 10, "dermoscopic_structures": 2, "lesion_id": "arm"}
    # A 0, B 8, C 1, D 2: 0 + 0.8 + 0.5 + 1.0 = 2.3, benign; and 10 mm -> 16 mm across since the last photo
    result = analyze(render(disc(80)), {**inputs, "previous": previous})
    assert result.score.value == pytest.approx(2.3) and result.risk_level == "intermediate"
    assert CATALOGUE["total_dermoscopy_score"].flag(result.biomarkers["total_dermoscopy_score"]) == "normal"
    assert any("raised to intermediate" in note and "above the category" in note for note in result.notes)
    # The check allows a level above the headline's own category, never below it.
    lowered = AnalysisResult(
        method_version="x",
        score=Score(5.6, TDS_SCALE),
        risk_level="intermediate",
        biomarkers={"total_dermoscopy_score": 5.6},
    )
    with pytest.raises(AnalysisError, match="flagged high while the risk level is intermediate"):
        lowered.check(CATALOGUE)


# --- the ABCD(E) checklist ---------------------------------------------------------------------------------
def test_the_checklist_headline_counts_positive_criteria_one_point_each():
    """Clinical photo of the two-colour disc at 20 px/mm: A positive (colour halves), B negative (convex),
    C negative (2 colours), D positive (10 mm > 6 mm), E not evaluable: 2 of 4."""
    result = analyze(HALVES, {"pixels_per_mm": 20})
    assert result.score.scale is CHECKLIST_SCALE and result.score.value == 2 and result.risk_level == "intermediate"
    assert {row.factor: row.change for row in result.contributions} == {
        "lesion_asymmetry_score": 1.0,
        "border_irregularity_index": 0.0,
        "colour_count": 0.0,
        "lesion_diameter": 1.0,
    }
    stored = {row["factor"] for row in result.contributions_json()}
    assert stored == {"lesion_asymmetry_score", "lesion_diameter"}  # rows adding nothing are not shown
    assert {m.name: m.value for m in result.measurements}["checklist_evaluable"] == 4
    assert [item.name for item in result.not_applicable] == ["total_dermoscopy_score", "evolution"]
    score = result.document()["score"]
    assert score["own_rule"] and "MediLens" in score["label"] and score["unit"] == "criteria"
    assert score["maximum"] == 5 and score["decimals"] == 0


def test_three_positive_criteria_are_high():
    """A star (irregularity 1.29 by construction) in three colour wedges, 300 px across at 20 px/mm:
    B, C and D are positive whatever A reads."""

    def star_in_three_colours(mask, colours, s):
        points = [(x * s, y * s) for x, y in star_points(8, 150, 90)]
        mask.polygon(points, fill=255)
        box = [(256 - 160) * s, (192 - 160) * s, (256 + 160) * s, (192 + 160) * s]
        for i, colour in enumerate([DARK_BROWN, BLACK, LIGHT_BROWN]):
            colours.pieslice(box, i * 120, (i + 1) * 120, fill=colour)

    result = analyze(render(star_in_three_colours), {"pixels_per_mm": 20})
    positive = {c["criterion"] for c in result.details["abcd_checklist"]["criteria"] if c["positive"]}
    assert {"B", "C", "D"} <= positive
    assert result.score.value == len(positive) and result.risk_level == "high"


@pytest.mark.parametrize(
    ("positive_flags", "level"),
    [((False, False, False), "low"), ((True, False, False), "intermediate"), ((True, True, False), "intermediate")],
)
def test_checklist_bands_match_the_count(positive_flags, level):
    asymmetric, irregular, many_colours = positive_flags
    result = abcd_checklist(
        asymmetry_score=1 if asymmetric else 0,
        irregularity=1.2 if irregular else 1.0,
        colour_count=3 if many_colours else 1,
        diameter_mm=None,
        evolving=None,
    )
    assert result["risk_score"] == sum(positive_flags) and result["risk_level"] == level
    assert CHECKLIST_SCALE.bands.level(result["risk_score"]) == level


def test_a_value_on_a_medilens_threshold_reads_the_same_in_its_flag_and_the_checklist():
    """B: an irregularity of 1.104 is stored and shown as 1.10, which is not above 1.10: neither flagged nor
    counted. 1.106 is shown as 1.11: both."""
    for measured, positive, flag in ((1.104, False, "normal"), (1.106, True, "high")):
        value = rounded(CATALOGUE, {"border_irregularity_index": measured})["border_irregularity_index"]
        checklist = abcd_checklist(
            asymmetry_score=0, irregularity=value, colour_count=1, diameter_mm=None, evolving=None
        )
        assert checklist["criteria"][1]["positive"] is positive
        assert CATALOGUE["border_irregularity_index"].flag(value) == flag


# --- what could not be assessed, and the catalogue ---------------------------------------------------------
def test_without_a_scale_or_an_earlier_photo_d_and_e_are_not_applicable_with_reasons():
    result = analyze(render(disc(80)), {"image_type": "dermoscopy"})
    reasons = {item.name: item.reason for item in result.not_applicable}
    assert set(reasons) == {"total_dermoscopy_score", "lesion_diameter", "evolution"}
    assert "count of dermoscopic structures" in reasons["total_dermoscopy_score"]
    assert "No scale" in reasons["lesion_diameter"] and "not evaluated" in reasons["lesion_diameter"]
    assert "lesion identifier" in reasons["evolution"]
    assert result.score.scale is CHECKLIST_SCALE and result.details["abcd_checklist"]["evaluable"] == 3


def test_an_earlier_photo_without_a_scale_says_which_changes_were_not_compared():
    previous = {"measured_at": "2025-06-01T00:00:00+00:00", "diameter_px": 120.0, "colour_count": 1}
    result = analyze(render(disc(80)), {"lesion_id": "arm", "previous": previous})
    reasons = {item.name: item.reason for item in result.not_applicable}
    assert "scale (pixels per mm) is needed in both photos" in reasons["lesion_diameter_change"]
    assert "not measured in both photos" in reasons["asymmetry_change"].lower()
    assert "evolution" not in reasons and "colour_count_change" not in reasons


def test_stored_values_are_at_their_catalogue_precision_and_the_document_is_json():
    result = analyze(HALVES, {"image_type": "dermoscopy", "pixels_per_mm": 20, "dermoscopic_structures": 3})
    for name, value in result.biomarkers.items():
        assert value == round(value, CATALOGUE[name].decimals), name
    # Truth: 200 px at 20 px/mm = 10 mm, the area 78.5 mm2 (a 1% boundary shift is 2% of the area)
    assert result.biomarkers["lesion_diameter"] == pytest.approx(10.0, abs=0.25)
    assert result.biomarkers["lesion_area"] == pytest.approx(math.pi * 25, rel=0.04)
    assert json.loads(json.dumps(result.document()))["score"]["label"] == "Stolz total dermoscopy score (TDS)"


def test_every_threshold_that_is_medilenss_own_says_so():
    own = ["lesion_asymmetry_score", "lesion_asymmetry_index", "border_irregularity_index", "colour_count"]
    own += ["border_abrupt_segments", "lesion_diameter_change", "lesion_area_change"]
    for name in own:
        assert OPERATING in CATALOGUE[name].source, name
    assert "MediLens" not in CATALOGUE["lesion_diameter"].source  # 6 mm is Friedman et al.'s
    note = CHECKLIST_SCALE.note
    assert all(f"{letter} " in note for letter in "ABCE") and "MediLens's own" in note
    assert "MediLens's own operating thresholds" in TDS_SCALE.note


def test_the_workers_path_never_imports_the_demo_generator():
    """Analysing a photo (decode, segment, measure, score, explain) in a fresh process leaves
    ``modalities.dermatology.synthetic`` unimported; seeding the demo is what imports it."""
    code = (
        "import sys, django; django.setup(); "
        "from modalities.tests.dermatology_photos import analyze, disc, render; "
        "analyze(render(disc(80)), {'pixels_per_mm': 10}); "
        "print('modalities.dermatology.synthetic' in sys.modules); "
        "from modalities import registry; registry.demo_cases('dermatology'); "
        "print('modalities.dermatology.synthetic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "medilens.test_settings"},
    )
    assert result.stdout.split()[-2:] == ["False", "True"], result.stderr
