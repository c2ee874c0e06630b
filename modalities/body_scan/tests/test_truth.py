"""Truth tests: shapes built here from trimesh primitives (``shapes``, not the demo's ``synthetic``) whose height,
volume, area and perimeters are known in closed form, measured through the whole analyzer."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import shapely
import trimesh

from modalities.body_scan import load, slices
from modalities.body_scan.measure import WHO_WAIST_FRACTION

from . import shapes
from .helpers import ANALYZER, MAN, WOMAN, analyse


def _near(value, expected, tolerance):
    return abs(value - expected) <= tolerance * abs(expected)


def test_a_capsule_measures_its_height_volume_area_and_perimeter():
    radius, length = 0.15, 1.5  # a 1.8 m capsule: a cylinder 1.5 m long between two hemispheres
    capsule = trimesh.creation.capsule(height=length, radius=radius, count=[128, 128])
    capsule.apply_translation([0, 0, length / 2 + radius])
    result = analyse(capsule.export(file_type="ply"), {"up_axis": "z"})
    values = result.biomarkers
    assert abs(values["standing_height"] - 180.0) <= 0.5
    assert _near(values["body_volume"], (math.pi * radius**2 * length + 4 / 3 * math.pi * radius**3) * 1000, 0.01)
    assert _near(values["body_surface_area_scan"], 2 * math.pi * radius * length + 4 * math.pi * radius**2, 0.01)
    for name in ("waist_circumference", "narrowest_waist_circumference", "hip_circumference"):
        assert _near(values[name], 2 * math.pi * radius * 100, 0.02), name


def test_an_elliptic_solid_measures_its_perimeter_volume_and_area():
    a, b, height = 0.17, 0.12, 1.7
    solid = shapes.elliptic_cylinder(a, b, 0.0, height, sections=512)
    values = analyse(solid.export(file_type="stl"), {"up_axis": "z"}).biomarkers
    perimeter = shapes.ellipse_perimeter(a, b)
    assert abs(values["standing_height"] - 170.0) <= 0.5
    assert _near(values["waist_circumference"], perimeter * 100, 0.02)
    assert _near(values["hip_circumference"], perimeter * 100, 0.02)
    assert _near(values["body_volume"], math.pi * a * b * height * 1000, 0.01)
    assert _near(values["body_surface_area_scan"], perimeter * height + 2 * math.pi * a * b, 0.01)


@pytest.mark.parametrize("overlap", [0.005, 0.02])
def test_arms_touching_the_trunk_at_waist_level_are_not_measured_as_waist(overlap):
    """Arms (8 cm thick) resting on the trunk's sides, sunk 5 mm and 2 cm into it."""
    figure = shapes.body(arms_touching=True, arm_overlap=overlap)
    result = analyse(figure.export(file_type="ply"), {"up_axis": "z"})
    trunk = shapes.ellipse_perimeter(shapes.TRUNK_A, shapes.TRUNK_B) * 100
    assert _near(result.biomarkers["waist_circumference"], trunk, 0.02)
    assert _near(result.biomarkers["narrowest_waist_circumference"], trunk, 0.02)
    # The test can fail: the hull of everything the plane cuts at the waist (trunk and arms) is far longer.
    waist = WHO_WAIST_FRACTION * shapes.HEIGHT
    body = load.load(figure.export(file_type="ply"), "ply", up_axis="z")
    (parts,) = slices.regions(body.mesh, np.array([waist]))
    everything = shapely.unary_union(parts).convex_hull.exterior.length * 100
    assert everything > trunk * 1.15
    assert result.details["slices"][0]["name"] == "waist"
    assert abs(result.details["slices"][0]["height_m"] - waist) < 1e-3


def test_arms_away_from_the_trunk_are_left_out_too():
    result = analyse(shapes.body(arms_touching=False).export(file_type="ply"), {"up_axis": "z"})
    trunk = shapes.ellipse_perimeter(shapes.TRUNK_A, shapes.TRUNK_B) * 100
    assert _near(result.biomarkers["waist_circumference"], trunk, 0.02)


@pytest.mark.parametrize("file_type", ["ply", "stl", "obj"])
def test_the_same_body_in_millimetres_centimetres_and_metres_measures_the_same(file_type):
    measured = {}
    for units, factor in (("m", 1.0), ("cm", 100.0), ("mm", 1000.0)):
        figure = shapes.body()
        figure.apply_scale(factor)
        data = figure.export(file_type=file_type)
        data = data.encode() if isinstance(data, str) else data
        measured[units] = analyse(data, {"units": units, "up_axis": "z"}).biomarkers
    assert measured["m"] == measured["cm"] == measured["mm"]
    assert abs(measured["m"]["standing_height"] - shapes.HEIGHT * 100) <= 0.5


def test_a_glb_is_read_in_metres_with_y_up_whatever_the_units_input_says():
    figure = shapes.body()
    figure.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]))  # +Z up -> +Y up
    result = analyse(figure.export(file_type="glb"), {"units": "mm"})
    assert abs(result.biomarkers["standing_height"] - shapes.HEIGHT * 100) <= 0.5
    assert any("ignored" in note for note in result.notes)


def test_a_scan_lying_on_its_side_with_feet_is_put_upright_automatically():
    figure = shapes.body()
    for side in (-1, 1):  # feet: long boxes, as a person stands on them
        foot = trimesh.creation.box(extents=[0.09, 0.26, 0.05])
        foot.apply_translation([side * 0.08, -0.05, 0.025])
        figure = trimesh.util.concatenate([figure, foot])
    figure.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [0, 1, 0]))  # lying: up is -X
    result = analyse(figure.export(file_type="ply"), {"up_axis": "auto"})
    trunk = shapes.ellipse_perimeter(shapes.TRUNK_A, shapes.TRUNK_B) * 100
    assert abs(result.biomarkers["standing_height"] - shapes.HEIGHT * 100) <= 0.5
    assert _near(result.biomarkers["waist_circumference"], trunk, 0.02)


def test_ratios_risk_level_and_flags_follow_the_published_thresholds():
    # Trunk perimeter 85.6 cm on a 169 cm figure: WHtR 0.51 (>= 0.5, Ashwell: increased); hip = waist: WHR 1.0.
    result = analyse(shapes.body().export(file_type="ply"), {"up_axis": "z"}, patient=WOMAN)
    values = result.biomarkers
    assert values["waist_to_height_ratio"] == round(values["waist_circumference"] / values["standing_height"], 2)
    assert values["waist_to_height_ratio"] >= 0.5
    assert result.score.scale.unit == "ratio" and "WHtR" in result.score.scale.label
    assert result.risk_level == "high"  # WHR >= 0.85 (woman): WHO 2008 substantially increased
    specs = result.specs(ANALYZER.modality.catalogue)
    assert specs["waist_to_hip_ratio"].flag(0.85) == "high" and specs["waist_to_hip_ratio"].flag(0.84) == "normal"
    assert specs["waist_to_height_ratio"].flag(values["waist_to_height_ratio"]) == "intermediate"
    result.check(ANALYZER.modality.catalogue)


def test_a_slim_figure_of_unrecorded_sex_is_low_risk_and_its_mosteller_bsa_comes_from_the_record():
    slim = shapes.elliptic_cylinder(0.13, 0.09, 0.0, 1.8, sections=256)
    unknown_sex = dataclasses.replace(MAN, sex_at_birth="unknown")
    result = analyse(slim.export(file_type="ply"), {"up_axis": "z"}, patient=unknown_sex)
    assert result.biomarkers["waist_to_height_ratio"] < 0.5
    # WHR is 1.0 (hip = waist), but with no sex on record no WHO 2008 limit applies: WHtR alone sets the level.
    assert result.risk_level == "low"
    assert "waist_to_hip_ratio" not in result.spec_overrides
    assert result.biomarkers["body_surface_area_mosteller"] == round(math.sqrt(176.0 * 81.0 / 3600), 2)
    result.check(ANALYZER.modality.catalogue)


def test_without_height_and_weight_the_mosteller_bsa_is_not_applicable_with_its_reason():
    result = analyse(shapes.body().export(file_type="ply"), {"up_axis": "z"}, patient=WOMAN)
    assert "body_surface_area_mosteller" not in result.biomarkers
    (item,) = [entry for entry in result.not_applicable if entry.name == "body_surface_area_mosteller"]
    assert "height and weight" in item.reason
