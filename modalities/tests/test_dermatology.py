"""Dermatology: lesions of known shape, size and colour; the Stolz total dermoscopy score; evolution; the
inputs; bad photos; and the API + pipeline path.

The photos and the tolerances are in ``dermatology_photos``.
"""

from __future__ import annotations

import io
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from modalities import registry
from modalities.base import AnalysisError, InputError
from modalities.dermatology.catalogue import IRREGULARITY_THRESHOLD
from modalities.dermatology.evolution import evolution, previous_measurements
from modalities.dermatology.inputs import with_history
from modalities.dermatology.photo import PhotoProblem, decode_photo
from modalities.dermatology.rule import abcd_checklist, tds_category, tds_risk, total_dermoscopy_score
from modalities.dermatology.segmentation import segment_lesion
from modalities.tests.dermatology_photos import (
    ANALYZER,
    BLACK,
    BLUE_GREY,
    COMPACTNESS_SMOOTH,
    DARK_BROWN,
    LIGHT_BROWN,
    PATIENT,
    RED,
    SHAPE_EXACT,
    SIZE_PX,
    WHITE,
    analyze,
    circles,
    disc,
    ellipse_points,
    measure,
    polygon,
    render,
    sectors,
    star_points,
)


# --- known truth: size and shape ---------------------------------------------------------------------------
def test_circle_diameter_symmetry_and_border():
    m = measure("circle", render(disc(80)))
    assert m.geometry.feret == pytest.approx(160, abs=SIZE_PX)
    assert m.asymmetry.score == 0 and m.asymmetry.index < SHAPE_EXACT
    assert m.geometry.compactness == pytest.approx(1.0, abs=COMPACTNESS_SMOOTH)
    assert m.geometry.irregularity == pytest.approx(1.0, abs=0.02)  # a convex outline: perimeter = hull's
    assert m.border.abrupt_segments == 8  # a drawn edge is a step: 2 px from 20% to 80%, limit 8 px here
    assert m.colours.present == ["dark_brown"]


def test_circle_in_millimetres_from_a_large_jpeg():
    """A 2048x1536 photo analysed at 1024x768: the diameter in mm and in pixels of the uploaded photo.

    Truth: radius 300 px at 40 px/mm = 15 mm. Tolerance: SIZE_PX at the working size is 8 px of this photo
    (0.2 mm), plus JPEG ringing at the edge: 10 px, 0.25 mm."""
    data = render(disc(300, centre=(1024, 768)), size=(2048, 1536), supersample=1, fmt="JPEG")
    result = analyze(data, {"pixels_per_mm": 40})
    assert result.biomarkers["lesion_diameter"] == pytest.approx(15.0, abs=0.25)
    assert result.biomarkers["lesion_diameter_pixels"] == pytest.approx(600, abs=10)
    assert result.biomarkers["lesion_area"] == pytest.approx(math.pi * 7.5**2, rel=0.04)  # 2 x the diameter's
    assert result.details["working_size"] == [1024, 768] and result.details["original_size"] == [2048, 1536]
    assert result.details["diameter"]["flag"] is None and result.details["scale"]["status"] == "given"


def test_ellipse_is_symmetric_convex_and_elongated():
    m = measure("ellipse", render(polygon(ellipse_points(160, 80, 30))))
    assert m.geometry.feret == pytest.approx(320, abs=SIZE_PX)
    assert m.asymmetry.score == 0 and m.asymmetry.index < SHAPE_EXACT
    # Ramanujan's perimeter of a 2:1 ellipse: P^2 / (4 pi A) = 1.189; the irregularity index stays 1.
    assert m.geometry.compactness == pytest.approx(1.189, abs=COMPACTNESS_SMOOTH)
    assert m.geometry.irregularity == pytest.approx(1.0, abs=0.02)
    # the symmetry axes found are the ellipse's own (30 and 120 degrees), within the 4-degree search step
    angles = sorted(axis["angle_degrees"] for axis in m.asymmetry.axes)
    assert angles[0] == pytest.approx(30, abs=4) and angles[1] == pytest.approx(120, abs=4)


def test_star_has_an_irregular_border_but_is_symmetric():
    outer, inner, tips = 150, 90, 8
    m = measure("star", render(polygon(star_points(tips, outer, inner))))
    edge = math.sqrt(outer**2 + inner**2 - 2 * outer * inner * math.cos(math.pi / tips))
    perimeter, hull = 2 * tips * edge, 2 * tips * outer * math.sin(math.pi / tips)
    area = 2 * tips * 0.5 * outer * inner * math.sin(math.pi / tips)
    assert m.geometry.irregularity == pytest.approx(perimeter / hull, rel=0.03)  # 1.29
    assert m.geometry.compactness == pytest.approx(perimeter**2 / (4 * math.pi * area), rel=0.10)  # 2.66
    assert m.geometry.irregularity > IRREGULARITY_THRESHOLD
    assert m.asymmetry.score == 0  # an 8-pointed star has perpendicular mirror axes


def test_a_lesion_with_one_mirror_axis_scores_one():
    """Two overlapping discs on a line: mirror-symmetric about that line, not about its perpendicular."""
    m = measure("snowman", render(circles([(220, 192, 100), (340, 192, 55)])))
    assert m.asymmetry.score == 1
    shapes = sorted(axis["shape_index"] for axis in m.asymmetry.axes)
    assert shapes[0] < SHAPE_EXACT and shapes[1] > 0.10


def test_a_lesion_without_mirror_axes_scores_two():
    m = measure("lumpy", render(circles([(210, 200, 95), (330, 130, 55), (320, 270, 35)])))
    assert m.asymmetry.score == 2
    assert all("shape" in axis["reasons"] for axis in m.asymmetry.axes)


# --- known truth: colours ----------------------------------------------------------------------------------
def test_two_colour_lesion():
    """Dark brown and black halves: two colours; the halves differ across one axis only (colour A = 1)."""
    m = measure("two colours", render(sectors([DARK_BROWN, BLACK], start=90)))
    assert sorted(m.colours.present) == ["black", "dark_brown"]
    assert m.asymmetry.score == 1
    [asymmetric] = [axis for axis in m.asymmetry.axes if axis["asymmetric"]]
    assert asymmetric["reasons"] == ["colour"] and asymmetric["shape_index"] < SHAPE_EXACT


def test_five_colour_lesion():
    """Five wedges of 20%: each colour is far above the 5% floor; the seams where two colours blend (a few
    pixels wide) stay far below it."""
    m = measure("five colours", render(sectors([LIGHT_BROWN, DARK_BROWN, BLACK, BLUE_GREY, RED])))
    assert sorted(m.colours.present) == sorted(["light_brown", "dark_brown", "black", "blue_grey", "red"])
    assert all(0.15 < m.colours.shares[name] < 0.25 for name in m.colours.present)
    # the light-brown wedge is part of the lesion (Otsu alone would cut it off: hysteresis keeps it)
    assert m.geometry.feret == pytest.approx(240, abs=SIZE_PX)


def test_six_colours_and_white_only_when_lighter_than_the_skin():
    six = measure("six colours", render(sectors([LIGHT_BROWN, DARK_BROWN, BLACK, BLUE_GREY, RED, WHITE])))
    assert six.colours.count == 6
    # The same pale grey (L* 81) is white on darker skin (L* 50) and not on very light skin (L* 94), where
    # it is darker than the skin around it: Stolz counts white only where it is lighter than the skin.
    pale = (200, 200, 200)
    on_dark = measure("pale on darker skin", render(disc(80, colour=pale), skin=(150, 105, 85)))
    on_light = measure("pale on light skin", render(disc(80, colour=pale), skin=(250, 238, 230)))
    assert on_dark.colours.present == ["white"]
    assert "white" not in on_light.colours.present and on_light.colours.count == 1


# --- known truth: Stolz's border score ---------------------------------------------------------------------
def test_border_score_counts_abrupt_segments():
    sharp = measure("circle", render(disc(80)))
    faded = measure("faded", render(disc(80), fade=12))
    half = measure("half faded", render(disc(80), fade=12, fade_left_only=True))
    assert sharp.border.abrupt_segments == 8
    # A Gaussian fade of 12 px spreads the 20-80% rise over 1.68 x 12 = 20 px, above the limit (10% of
    # the equivalent radius, 8-9 px): no segment is abrupt.
    assert faded.border.abrupt_segments == 0
    # Half faded: the 4 segments on the sharp side, give or take the 2 that straddle the seam.
    assert 3 <= half.border.abrupt_segments <= 5


# --- dermoscopy field, failures ----------------------------------------------------------------------------
def test_dermoscopy_rim_is_outside_the_field():
    def with_rim(mask, colours, s):
        """A round dermatoscope field: black outside an ellipse a little wider than the photo."""
        width, height = 512 * s, 384 * s
        mask.rectangle([0, 0, width, height], fill=255)
        colours.rectangle([0, 0, width, height], fill=(0, 0, 0))
        mask.ellipse([0.02 * width, -0.1 * height, 0.98 * width, 1.1 * height], fill=0)
        disc(70)(mask, colours, s)

    m = measure("rim", render(with_rim))
    assert m.geometry.feret == pytest.approx(140, abs=SIZE_PX)
    assert m.segmentation.field_fraction < 0.9


@pytest.mark.parametrize(
    "paint, message",
    [
        (lambda mask, colours, s: None, "no lesion found: nothing in the photo differs"),
        (disc(6), "below the 400 this analysis needs"),
        (disc(150, centre=(60, 192)), "touches the edge of the photo"),
        (polygon([(18, 18), (494, 18), (494, 366), (18, 366)]), "covers 8"),  # 476 x 348 of 512 x 384: 84%
    ],
    ids=["uniform skin", "tiny lesion", "touching the edge", "whole photo"],
)
def test_segmentation_failures_say_why(paint, message):
    photo = decode_photo(io.BytesIO(render(paint)))
    with pytest.raises(PhotoProblem, match=message):
        segment_lesion(photo.rgb)


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (_png(np.zeros((200, 300, 3), np.uint8)), "almost black"),
        (_png(np.full((200, 300, 3), 255, np.uint8)), "overexposed"),
        (_png(np.full((200, 300, 3), (200, 160, 140), np.uint8)), "single flat colour"),
        (_png((np.random.default_rng(1).random((200, 300)) * 255).astype(np.uint8)), "greyscale"),
        (_png(np.repeat((np.random.default_rng(1).random((200, 300, 1)) * 255).astype(np.uint8), 3, 2)), "greyscale"),
        (_png(np.full((60, 600, 3), 128, np.uint8)), "at least 128 pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated or corrupt"),
    ],
    ids=["black", "white", "flat", "grey mode", "grey RGB", "thin", "corrupt"],
)
def test_unusable_photos_are_refused_with_the_reason(data, message):
    with pytest.raises(PhotoProblem, match=message):
        decode_photo(io.BytesIO(data))


def test_analysis_failures_are_readable():
    with pytest.raises(AnalysisError, match="The lesion could not be measured: no lesion found"):
        analyze(render(lambda mask, colours, s: None))


# --- the Stolz total dermoscopy score ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, c, d, tds, category",
    [
        (0, 0, 1, 1, 1.0, "benign"),  # the lowest attainable score
        (2, 8, 6, 5, 8.9, "highly suspicious"),  # the highest: 2.6 + 0.8 + 3.0 + 2.5
        (1, 4, 3, 3, 4.7, "benign"),  # 1.3 + 0.4 + 1.5 + 1.5: just under 4.75
        (1, 5, 3, 3, 4.8, "suspicious"),  # one more abrupt segment crosses 4.75
        (1, 1, 4, 4, 5.4, "suspicious"),  # 1.3 + 0.1 + 2.0 + 2.0: just under 5.45
        (1, 2, 4, 4, 5.5, "highly suspicious"),  # one more crosses 5.45
        (2, 0, 2, 2, 4.6, "benign"),  # asymmetry weighs most: 2.6 + 1.0 + 1.0
    ],
)
def test_total_dermoscopy_score_and_its_bands(a, b, c, d, tds, category):
    """TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D, bands < 4.75 / 4.75-5.45 / > 5.45 (Stolz 1994, Nachbar 1994).
    Every attainable TDS is a multiple of 0.1, so the pairs on each side of a threshold are the closest
    possible; the comparison is exact (the function rounds to 2 decimals)."""
    score = total_dermoscopy_score(asymmetry=a, border=b, colours=c, structures=d)
    assert score == tds
    assert tds_category(score) == category


def test_threshold_values_themselves_follow_stolz():
    assert tds_category(4.75) == "suspicious" and tds_category(5.45) == "suspicious"
    assert tds_category(4.7499) == "benign" and tds_category(5.4501) == "highly suspicious"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"asymmetry": 3, "border": 0, "colours": 1, "structures": 1},
        {"asymmetry": 0, "border": 9, "colours": 1, "structures": 1},
        {"asymmetry": 0, "border": 0, "colours": 0, "structures": 1},
        {"asymmetry": 0, "border": 0, "colours": 7, "structures": 1},
        {"asymmetry": 0, "border": 0, "colours": 1, "structures": 0},
        {"asymmetry": 0, "border": 0, "colours": 1, "structures": 6},
        {"asymmetry": True, "border": 0, "colours": 1, "structures": 1},
        {"asymmetry": 1.5, "border": 0, "colours": 1, "structures": 1},
    ],
)
def test_total_dermoscopy_score_refuses_values_outside_its_terms(kwargs):
    with pytest.raises(ValueError):
        total_dermoscopy_score(**kwargs)


def test_tds_risk_is_the_tds_itself_in_stolzs_bands():
    # The headline is the TDS in points, no longer rescaled to 0-100 (before: 0.0, 100.0 and 46.8 here).
    assert tds_risk(1.0) == (1.0, "low") and tds_risk(8.9) == (8.9, "high")
    assert tds_risk(4.7)[1] == "low" and tds_risk(4.8)[1] == "intermediate"
    assert tds_risk(5.4)[1] == "intermediate" and tds_risk(5.5)[1] == "high"
    assert tds_risk(4.7)[0] == pytest.approx(4.7, abs=0.05)


def test_tds_is_computed_only_for_dermoscopy_with_a_clinician_count():
    data = render(disc(80))
    clinical = analyze(data, {"pixels_per_mm": 10})
    assert "total_dermoscopy_score" not in clinical.biomarkers
    assert clinical.details["tds"] == {
        "status": "not computed",
        "reason": "the Stolz TDS applies to dermoscopy images only",
    }
    uncounted = analyze(data, {"image_type": "dermoscopy"})
    assert (
        "total_dermoscopy_score" not in uncounted.biomarkers
        and "count of dermoscopic structures" in (uncounted.details["tds"]["reason"])
    )
    counted = analyze(data, {"image_type": "dermoscopy", "dermoscopic_structures": 2})
    # A 0 (symmetric), B 8 (a sharp edge all round), C 1 (dark brown), D 2: 0 + 0.8 + 0.5 + 1.0
    assert counted.biomarkers["total_dermoscopy_score"] == 2.3
    assert counted.details["tds"]["D_source"] == "entered by the clinician"
    assert counted.details["risk_basis"] == "total_dermoscopy_score"
    assert (counted.risk_score, counted.risk_level) == tds_risk(2.3)
    rows = {row.factor: row for row in counted.contributions}
    assert rows["border_abrupt_segments"].change == 0.8 and rows["lesion_asymmetry_score"].change == 0


# --- evolution and the ABCD(E) checklist -------------------------------------------------------------------
def test_evolution_compares_sizes_in_mm_colours_and_asymmetry():
    before = {
        "measured_at": "2026-01-10T09:00:00+00:00",
        "diameter_mm": 5.2,
        "area_mm2": 20.0,
        "colour_count": 2,
        "asymmetry": 0,
        "assessment_id": "abc",
    }
    now = {
        "measured_at": "2026-07-10T09:00:00+00:00",
        "diameter_mm": 6.6,
        "area_mm2": 30.0,
        "colour_count": 3,
        "asymmetry": 1,
    }
    result = evolution(before, now)
    assert result["evolving"] is True and result["compared_with"] == "abc"
    assert result["interval_days"] == 181.0
    assert result["diameter_change_mm"] == pytest.approx(1.4) and result["area_change_percent"] == 50.0
    assert result["colour_count_change"] == 1 and result["asymmetry_change"] == 1
    assert len(result["changes"]) == 4 and result["not_compared"] == []


def test_evolution_below_the_thresholds_and_without_a_scale():
    stable = evolution(
        {"measured_at": "2026-01-10", "diameter_mm": 5.2, "area_mm2": 20.0, "colour_count": 2, "asymmetry": 1},
        {"measured_at": "2026-02-10", "diameter_mm": 6.2, "area_mm2": 25.0, "colour_count": 2, "asymmetry": 0},
    )
    assert stable["evolving"] is False  # +1.0 mm is not more than 1 mm; +25% is not more than 25%
    unscaled = evolution(
        {"measured_at": "2026-01-10", "diameter_px": 200.0, "area_px": 30000.0, "colour_count": 1, "asymmetry": 0},
        {"measured_at": "2026-02-10", "diameter_px": 400.0, "area_px": 120000.0, "colour_count": 1, "asymmetry": 0},
    )
    assert unscaled["evolving"] is False and unscaled["diameter_change_mm"] is None
    assert "a scale (pixels per mm) is needed in both photos" in unscaled["not_compared"][0]


def test_previous_measurements_are_built_from_an_earlier_assessments_biomarkers():
    from datetime import UTC, datetime

    previous = previous_measurements(
        biomarkers={
            "lesion_diameter": 5.5,
            "lesion_area": 22.1,
            "colour_count": 2.0,
            "lesion_asymmetry_score": 1.0,
            "lesion_diameter_pixels": 110.0,
        },
        measured_at=datetime(2026, 3, 1, tzinfo=UTC),
        assessment_id="0b9d",
    )
    assert previous == {
        "assessment_id": "0b9d",
        "measured_at": "2026-03-01T00:00:00+00:00",
        "diameter_mm": 5.5,
        "area_mm2": 22.1,
        "diameter_px": 110.0,
        "area_px": None,
        "colour_count": 2,
        "asymmetry": 1,
    }
    # ...and they pass the inputs' validation as they are
    resolved = ANALYZER.validate_inputs(inputs={"lesion_id": "back 1", "previous": previous}, patient=PATIENT)
    assert resolved["previous"]["diameter_mm"] == 5.5


def test_history_fills_previous_from_the_latest_assessment_of_the_same_lesion_only():
    from datetime import UTC, datetime

    from modalities.base import PriorResult

    def prior(lesion_id, diameter, day):
        return PriorResult(
            inputs={"lesion_id": lesion_id},
            biomarkers={"lesion_diameter": diameter, "colour_count": 2.0, "lesion_asymmetry_score": 0.0},
            completed_at=datetime(2026, 3, day, tzinfo=UTC),
            assessment_id=f"id-{lesion_id}-{day}",
        )

    history = [prior("arm", 7.0, 20), prior("back 1", 5.5, 10), prior("back 1", 4.0, 1)]  # newest first
    resolved = ANALYZER.validate_inputs(inputs={"lesion_id": "back 1"}, patient=PATIENT)
    filled = with_history(resolved, lambda: history)
    assert filled["previous"]["assessment_id"] == "id-back 1-10" and filled["previous"]["diameter_mm"] == 5.5
    # another lesion, no lesion id, or earlier measurements given explicitly: history is not used
    assert "previous" not in with_history({**resolved, "lesion_id": "leg"}, lambda: history)
    asked = []
    no_id = ANALYZER.validate_inputs(inputs={}, patient=PATIENT)
    assert "previous" not in with_history(no_id, lambda: asked.append(1) or history) and not asked
    given = {**resolved, "previous": {"measured_at": "2025-01-01T00:00:00+00:00", "diameter_mm": 3.0}}
    assert with_history(given, lambda: history)["previous"]["diameter_mm"] == 3.0
    # The analyzer's validation runs the same hook with the history it is given (services pass the patient's).
    through = ANALYZER.validate_inputs(inputs={"lesion_id": "back 1"}, patient=PATIENT, history=lambda: history)
    assert through["previous"] == filled["previous"]


def test_an_evolving_lesion_raises_the_level_and_is_reported():
    data = render(disc(80))
    previous = {
        "measured_at": "2025-06-01T00:00:00+00:00",
        "diameter_mm": 12.0,
        "area_mm2": 110.0,
        "colour_count": 1,
        "asymmetry": 0,
    }
    result = analyze(data, {"pixels_per_mm": 10, "lesion_id": "arm", "previous": previous})
    # truth: 160 px at 10 px/mm = 16 mm now (+4 mm), area 201 mm2 (+83%)
    assert result.biomarkers["lesion_diameter_change"] == pytest.approx(4.0, abs=SIZE_PX / 10)
    assert result.biomarkers["lesion_area_change"] == pytest.approx(83, abs=6)
    assert result.details["evolution"]["evolving"] is True
    criteria = {c["criterion"]: c for c in result.details["abcd_checklist"]["criteria"]}
    assert criteria["E"]["positive"] is True and criteria["D"]["positive"] is True  # 16 mm > 6 mm
    assert result.risk_level == "intermediate"  # D and E: 2 of 5
    assert any("changed since its earlier photo" in r["text"] for r in result.recommendations)


@pytest.mark.parametrize(
    "asymmetry_score, irregularity, colours, diameter, evolving, positive, evaluable, level",
    [
        (0, 1.01, 1, None, None, 0, 3, "low"),
        (0, 1.01, 1, 4.0, None, 0, 4, "low"),
        (1, 1.01, 1, 4.0, None, 1, 4, "intermediate"),
        (2, 1.20, 3, None, None, 3, 3, "high"),
        (0, 1.01, 1, 7.0, True, 2, 5, "intermediate"),
    ],
)
def test_abcd_checklist(asymmetry_score, irregularity, colours, diameter, evolving, positive, evaluable, level):
    result = abcd_checklist(
        asymmetry_score=asymmetry_score,
        irregularity=irregularity,
        colour_count=colours,
        diameter_mm=diameter,
        evolving=evolving,
    )
    assert (result["positive"], result["evaluable"], result["risk_level"]) == (positive, evaluable, level)
    # The headline is the number of positive criteria (before: the share, 100 x positive / evaluable).
    assert result["risk_score"] == positive


# --- inputs ------------------------------------------------------------------------------------------------
def test_inputs_default_and_portal_strings():
    assert ANALYZER.validate_inputs(inputs={}, patient=PATIENT) == {
        "image_type": "clinical",
        "pixels_per_mm": None,
        "dermoscopic_structures": None,
        "lesion_id": None,
    }
    portal = {
        "image_type": "dermoscopy",
        "pixels_per_mm": "12.5",
        "dermoscopic_structures": "3",
        "lesion_id": " back 2 ",
    }
    assert ANALYZER.validate_inputs(inputs=portal, patient=PATIENT) == {
        "image_type": "dermoscopy",
        "pixels_per_mm": 12.5,
        "dermoscopic_structures": 3,
        "lesion_id": "back 2",
    }
    blanks = {"image_type": "", "pixels_per_mm": "", "dermoscopic_structures": "", "lesion_id": ""}
    assert ANALYZER.validate_inputs(inputs=blanks, patient=PATIENT)["image_type"] == "clinical"


@pytest.mark.parametrize(
    "inputs, field, words",
    [
        ({"image_type": "dermoscopy", "dermoscopic_structures": 9}, "dermoscopic_structures", "Stolz's D is 1-5"),
        ({"image_type": "dermoscopy", "dermoscopic_structures": 0}, "dermoscopic_structures", "structureless"),
        ({"image_type": "dermoscopy", "dermoscopic_structures": 2.5}, "dermoscopic_structures", "whole number"),
        ({"image_type": "dermoscopy", "dermoscopic_structures": True}, "dermoscopic_structures", "number"),
        ({"dermoscopic_structures": 3}, "dermoscopic_structures", "this one is a clinical photo"),
        ({"image_type": "clinical", "dermoscopic_structures": 3}, "dermoscopic_structures", "clinical photo"),
        ({"pixels_per_mm": -4}, "pixels_per_mm", "positive number"),
        ({"pixels_per_mm": 0}, "pixels_per_mm", "positive number"),
        ({"pixels_per_mm": 5000}, "pixels_per_mm", "up to 1000"),
        ({"pixels_per_mm": "ten"}, "pixels_per_mm", "Enter a number"),
        ({"pixels_per_mm": "nan"}, "pixels_per_mm", "finite"),
        ({"image_type": "ultrasound"}, "image_type", "clinical or dermoscopy"),
        ({"lesion_id": "x" * 101}, "lesion_id", "100"),
        ({"lesion_id": 7}, "lesion_id", "text"),
        ({"colour": "red"}, "colour", "Unknown input"),
        ({"previous": {"measured_at": "2025-01-01", "diameter_mm": 4}}, "previous", "lesion_id"),
        ({"lesion_id": "a", "previous": {"measured_at": "2999-01-01"}}, "previous", "in the future"),
        ({"lesion_id": "a", "previous": {"diameter_mm": 4}}, "previous", "measured_at: required"),
        ({"lesion_id": "a", "previous": {"measured_at": "2025-01-01", "colour_count": 8}}, "previous", "1-6"),
        ({"lesion_id": "a", "previous": {"measured_at": "2025-01-01", "weight": 8}}, "previous", "Unknown keys"),
    ],
)
def test_bad_inputs_are_refused_with_the_field_and_reason(inputs, field, words):
    with pytest.raises(InputError) as caught:
        ANALYZER.validate_inputs(inputs=inputs, patient=PATIENT)
    assert field in caught.value.errors and words in caught.value.errors[field], caught.value.errors


# --- the whole analysis ------------------------------------------------------------------------------------
def test_analysis_runs_every_stage_and_reports_no_scale():
    stages: list[str] = []
    result = analyze(render(disc(80)), {}, stages=stages)
    assert stages == ["decode", "segment", "features", "model", "explain"]
    assert set(result.biomarkers) == {
        "lesion_asymmetry_score",
        "lesion_asymmetry_index",
        "border_irregularity_index",
        "border_compactness_index",
        "border_abrupt_segments",
        "colour_count",
        "lesion_diameter_pixels",
    }
    assert result.details["diameter"] == {
        "max_feret_px": result.biomarkers["lesion_diameter_pixels"],
        "max_feret_mm": None,
        "flag": "no scale",
    }
    assert "no scale" in result.explanation_summary.lower() or "no scale given" in result.explanation_summary
    # symmetric, convex, one colour; D is not evaluable without a scale, E without an earlier photo
    assert result.details["abcd_checklist"]["evaluable"] == 3 and result.risk_level == "low"
    assert result.risk_score == 0.0 and result.confidence is None
    assert result.details["model"]["status"] == "no model" and result.model_version_id is None
    assert any("ruler" in r["text"] for r in result.recommendations)
    image = Image.open(io.BytesIO(result.explanation_image_png))
    assert image.format == "PNG" and max(image.size) <= 768
    json.dumps(result.document())  # JSON-safe, as the pipeline stores it


def test_an_active_model_runs_and_is_reported_beside_the_measurements():
    from modalities.runtime import heatmap_overlay_png

    seen = {}

    class Loaded:
        def predict(self, image):
            seen["predict"] = (image.shape, image.dtype, float(image.min()), float(image.max()))
            return {"benign": 0.8, "melanoma": 0.2}

        def saliency(self, image, label):
            seen["saliency"] = label
            return np.ones(image.shape[:2], np.float32)

    version = SimpleNamespace(
        pk=42,
        name="lesion_net",
        version="1.0.0",
        is_reference=True,
        label="lesion_net 1.0.0",
        intended_use="pipeline check",
        limitations="none known",
    )
    runtime = SimpleNamespace(
        active_model=lambda modality, organization_id: (
            version if (modality, organization_id) == ("dermatology", 7) else None
        ),
        load=lambda v: Loaded(),
        heatmap_overlay_png=heatmap_overlay_png,
    )
    data = render(disc(80))
    with_model = analyze(data, {"pixels_per_mm": 10}, runtime=runtime, organization_id=7)
    assert with_model.model_version_id == 42
    model = with_model.details["model"]
    assert model["status"] == "ran" and model["probabilities"] == {"benign": 0.8, "melanoma": 0.2}
    assert model["top_label"] == "benign" and "not for clinical use" in model["note"]
    assert seen["predict"][0] == (384, 512, 3) and seen["predict"][2] >= 0 and seen["predict"][3] <= 1
    assert seen["saliency"] == "benign"
    other_organization = analyze(data, {"pixels_per_mm": 10}, runtime=runtime, organization_id=8)
    assert other_organization.model_version_id is None
    # the model never moves the score
    assert (with_model.risk_score, with_model.risk_level) == (
        other_organization.risk_score,
        other_organization.risk_level,
    )


def test_demo_cases_validate_and_complete():
    cases = registry.demo_cases("dermatology")
    assert len(cases) == 3 and any(c.inputs.get("dermoscopic_structures") for c in cases)
    for case in cases:
        [(name, data)] = case.files
        result = analyze(data, case.inputs)
        assert result.biomarkers["colour_count"] >= 1, name
        if case.inputs.get("dermoscopic_structures"):
            assert "total_dermoscopy_score" in result.biomarkers
        if case.inputs.get("pixels_per_mm"):
            assert "lesion_diameter" in result.biomarkers


# --- through the API and the pipeline ----------------------------------------------------------------------
URL = "/api/v1/assessments/"


def _jpeg(data_png: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data_png)).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _post(tenant, patient, files, inputs=None):
    from assessments.tests.helpers_api import multipart_create, upload

    uploads = [upload(name, data, content_type) for name, data, content_type in files]
    return tenant.api("clinician").post(
        URL,
        multipart_create(patient, modality="dermatology", inputs=inputs, files=uploads),
        format="multipart",
    )


def _run(tenant, assessment_id):
    from accounts.tenancy import organization_scope
    from assessments import pipeline
    from assessments.models import Assessment

    with organization_scope(tenant.organization):
        outcome = pipeline.run(assessment_id)
        return outcome, Assessment.objects.get(pk=assessment_id)


@pytest.mark.django_db
def test_dermoscopy_photo_through_the_api_and_the_pipeline(tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import make_patient

    data = _jpeg(render(sectors([DARK_BROWN, BLACK], radius=100, start=90)))
    inputs = {"image_type": "dermoscopy", "pixels_per_mm": 20, "dermoscopic_structures": 3, "lesion_id": "back 1"}
    response = _post(tenant_a, make_patient(tenant_a), [("lesion.jpg", data, "image/jpeg")], inputs)
    assert response.status_code == 201, response.content
    outcome, assessment = _run(tenant_a, response.json()["id"])
    assert outcome == "completed", assessment.failure_reason

    body = tenant_a.api("read_only").get(f"{URL}{assessment.pk}/").json()
    assert [s["status"] for s in body["stages"]] == ["completed"] * 5
    by_name = {b["name"]: b for b in body["biomarkers"]}
    # truth: 200 px at 20 px/mm = 10 mm, above the 6 mm of the clinical D
    assert by_name["lesion_diameter"]["value"] == pytest.approx(10.0, abs=SIZE_PX / 20 + 0.05)
    assert by_name["lesion_diameter"]["unit"] == "mm"
    assert by_name["lesion_diameter"]["reference_range"] == {
        "low": None,
        "high": 6.0,
        "low_inclusive": True,
        "high_inclusive": True,
    }
    assert by_name["lesion_diameter"]["flag"] == "high"
    assert by_name["colour_count"]["value"] == 2 and by_name["colour_count"]["flag"] == "normal"
    assert by_name["lesion_asymmetry_score"]["value"] == 1 and by_name["lesion_asymmetry_score"]["flag"] == "high"
    # TDS: A 1 (the colour halves), B 8, C 2, D 3 = 1.3 + 0.8 + 1.0 + 1.5 = 4.6, benign (< 4.75)
    tds = by_name["total_dermoscopy_score"]
    # In TDS points, flagged in Stolz's bands (a banded score has no reference limits: both are null)
    assert tds["value"] == 4.6 and tds["unit"] == "points" and tds["flag"] == "normal"
    assert tds["reference_range"] == {"low": None, "high": None, "low_inclusive": True, "high_inclusive": True}
    assert body["risk_level"] == "low" and body["risk_score"] == tds_risk(4.6)[0] and body["confidence"] is None
    assert body["explanation"]["has_image"] is True and "Stolz TDS 4.6" in body["explanation"]["summary"]
    assert body["results"]["details"]["model"]["status"] == "no model" and body["model_version"] is None
    assert body["inputs"]["lesion_id"] == "back 1"


@pytest.mark.django_db
def test_a_second_photo_of_the_same_lesion_is_compared_with_the_first(tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import make_patient

    patient = make_patient(tenant_a)
    inputs = {"pixels_per_mm": 10, "lesion_id": "left forearm"}
    first = _post(tenant_a, patient, [("a.png", render(disc(50)), "image/png")], inputs)
    assert first.status_code == 201, first.content
    outcome, earlier = _run(tenant_a, first.json()["id"])
    assert outcome == "completed", earlier.failure_reason
    assert "previous" not in earlier.inputs

    second = _post(tenant_a, patient, [("b.png", render(disc(80)), "image/png")], inputs)
    assert second.status_code == 201, second.content
    assert second.json()["inputs"]["previous"]["assessment_id"] == str(earlier.pk)
    outcome, later = _run(tenant_a, second.json()["id"])
    assert outcome == "completed", later.failure_reason
    body = tenant_a.api("read_only").get(f"{URL}{later.pk}/").json()
    by_name = {b["name"]: b for b in body["biomarkers"]}
    # truth: 100 px -> 160 px across at 10 px/mm, 10 mm -> 16 mm (+6 mm, flagged above the 1 mm of growth)
    assert by_name["lesion_diameter_change"]["value"] == pytest.approx(6.0, abs=2 * SIZE_PX / 10)
    assert by_name["lesion_diameter_change"]["flag"] == "high"
    assert body["results"]["details"]["evolution"]["evolving"] is True

    # a photo of another lesion of the same patient is not compared with either
    other = _post(tenant_a, patient, [("c.png", render(disc(50)), "image/png")], {**inputs, "lesion_id": "back"})
    assert other.status_code == 201 and "previous" not in other.json()["inputs"]


@pytest.mark.django_db
def test_an_organizations_active_model_runs_through_the_real_runtime(tenant_a, s3_server, s3_bucket):
    """Plumbing only: the committed reference weights (a chest-X-ray-shaped network, not a skin model)
    registered as this organization's dermatology model, to show the analyzer loads, verifies and runs
    whatever version the registry makes active, and records it."""
    from assessments.tests.helpers_api import make_patient
    from modalities import runtime, services
    from modalities.management.commands import build_reference_model, register_reference_models

    data, _ = register_reference_models.committed_weights(build_reference_model.NAME)
    description = build_reference_model.description_of(data)
    version = services.upload_model_version(
        acting_user=None,
        modality="dermatology",
        name="plumbing_check",
        version="0.0.1",
        architecture=description["architecture"],
        weights=data,
        input_spec=description["input_spec"],
        output_labels=description["labels"],
        intended_use="pipeline check",
        limitations="not a skin model",
        organization=tenant_a.organization,
        is_reference=True,
    )
    services.activate_model_version(acting_user=None, model_version=version, allow_reference=True)
    runtime.clear_cache()
    response = _post(tenant_a, make_patient(tenant_a), [("lesion.png", render(disc(80)), "image/png")])
    assert response.status_code == 201, response.content
    outcome, assessment = _run(tenant_a, response.json()["id"])
    assert outcome == "completed", assessment.failure_reason
    assert assessment.model_version_id == version.pk
    model = assessment.results["details"]["model"]
    assert model["status"] == "ran" and set(model["probabilities"]) == set(description["labels"])
    assert sum(model["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["uniform skin", "touching the edge"],
)
def test_photos_without_a_measurable_lesion_fail_with_the_reason(case, tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import make_patient

    paint, reason = {
        "uniform skin": (lambda mask, colours, s: None, "no lesion found"),
        "touching the edge": (disc(150, centre=(40, 192)), "touches the edge of the photo"),
    }[case]
    response = _post(tenant_a, make_patient(tenant_a), [("lesion.jpg", _jpeg(render(paint)), "image/jpeg")])
    assert response.status_code == 201, response.content
    outcome, assessment = _run(tenant_a, response.json()["id"])
    assert outcome == "failed"
    assert assessment.failure_reason.startswith("The lesion could not be measured: ") and reason in (
        assessment.failure_reason
    )
    body = tenant_a.api("read_only").get(f"{URL}{assessment.pk}/").json()
    assert body["status"] == "failed" and body["failure_reason"] == assessment.failure_reason
    assert [s["status"] for s in body["stages"]] == ["completed", "failed", "pending", "pending", "pending"]


def _text_png() -> bytes:
    return b"Dear colleague\nthis is a referral letter and not a photo of a skin lesion at all.\n" * 3


BAD_SUBMISSIONS = {
    "black image": (
        [("black.png", lambda: _png(np.zeros((300, 400, 3), np.uint8)), "image/png")],
        {},
        400,
        "files",
        "almost black",
    ),
    "greyscale": (
        [("grey.png", lambda: _png(np.full((300, 400), 90, np.uint8) + np.eye(300, 400, dtype=np.uint8)), "image/png")],
        {},
        400,
        "files",
        "greyscale",
    ),
    "absurd dimensions": (
        [("strip.png", lambda: _png(np.full((20, 2000, 3), (120, 80, 60), np.uint8)), "image/png")],
        {},
        400,
        "files",
        "at least 128 pixels",
    ),
    "truncated JPEG": (
        [("cut.jpg", lambda: _jpeg(render(disc(80)))[:3000], "image/jpeg")],
        {},
        400,
        "files",
        "truncated",
    ),
    "text named .png": ([("lesion.png", _text_png, "image/png")], {}, 415, None, "text/plain, which is not"),
    "zero-length": ([("empty.jpg", lambda: b"", "image/jpeg")], {}, 400, "files", "empty"),
    "two photos": (
        [("a.png", lambda: render(disc(80)), "image/png"), ("b.png", lambda: render(disc(60)), "image/png")],
        {},
        400,
        "files",
        "exactly one photo",
    ),
    "structures count 9": (
        [("lesion.png", lambda: render(disc(80)), "image/png")],
        {"image_type": "dermoscopy", "dermoscopic_structures": 9},
        400,
        "inputs.dermoscopic_structures",
        "1-5",
    ),
    "structures on a clinical photo": (
        [("lesion.png", lambda: render(disc(80)), "image/png")],
        {"image_type": "clinical", "dermoscopic_structures": 3},
        400,
        "inputs.dermoscopic_structures",
        "clinical photo",
    ),
    "negative scale": (
        [("lesion.png", lambda: render(disc(80)), "image/png")],
        {"pixels_per_mm": -2},
        400,
        "inputs.pixels_per_mm",
        "positive number",
    ),
    "no photo": ([], {}, 400, "files", "needs at least one input file"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(BAD_SUBMISSIONS))
def test_bad_submissions_are_4xx_and_nothing_is_stored(case, tenant_a, s3_server, s3_bucket):
    from assessments.tests.helpers_api import assert_error, make_patient, nothing_stored

    files, inputs, status, field, words = BAD_SUBMISSIONS[case]
    patient = make_patient(tenant_a)
    with nothing_stored(s3_server, s3_bucket):
        response = _post(tenant_a, patient, [(name, build(), kind) for name, build, kind in files], inputs)
    error = assert_error(response, status, field=field)
    text = " ".join(error.get("fields", {}).get(field, [])) if field else error["message"]
    assert words in text, error
