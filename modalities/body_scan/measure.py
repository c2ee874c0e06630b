"""The measurements, in the normalised frame (metres, +Z up, floor at z = 0; see ``load``).

* Standing height: the vertical extent from the floor (lowest point) to the vertex (highest point) of the body, as
  stature is defined (ISO 7250-1:2017, 5.1.1: vertical distance from the floor to the highest point of the head).
* Surface area: the sum of the mesh's triangle areas (trimesh ``area``).
* Volume: ``volume``.
* Waist circumference at the WHO site: "the midpoint between the lower margin of the last palpable rib and the top
  of the iliac crest" (WHO, Waist circumference and waist-hip ratio: report of a WHO expert consultation, Geneva
  2008, section 5). A mesh has no palpable landmarks; the site is placed at the height fraction of that midpoint in
  ANSUR II (Gordon et al., 2012 Anthropometric Survey of U.S. Army Personnel, NATICK/TR-15/007, 6,068 adults):
  mean tenth-rib height 1099.6 mm and iliocristale height 1040.1 mm for a mean stature of 1714.4 mm, so the
  midpoint lies at 0.624 of stature (the rib at 0.641, the crest at 0.607). Perimeter: the trunk loop's convex
  hull (``slices``).
* Narrowest trunk perimeter: the smallest trunk hull perimeter between 0.58 and 0.68 of stature (around the rib
  and crest heights, every 0.5 % of stature); often what a person calls the waist, reported apart.
* Hip circumference: "around the widest portion of the buttocks" (WHO 2008, section 5): the largest trunk hull
  perimeter between 0.42 and 0.58 of stature (every 1 %), on slices where one region holds the body axis (above
  the crotch), hands and forearms cut away as in ``slices``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import slices
from .load import Body
from .volume import Volume, corners, surface_area
from .volume import measure as measure_volume

WHO_WAIST_FRACTION = 0.624
NARROWEST_BAND = (0.58, 0.68)
HIP_BAND = (0.42, 0.58)
AXIS_BAND = (0.45, 0.75)
STEP_FRACTION = 0.005
HIP_STEP_FRACTION = 0.01  # the hips' widest part is broad: 1 % of stature (1.7 cm) changes its perimeter < 0.5 %

WAIST_METHOD = (
    "WHO 2008 site (midway lowest rib - iliac crest) at 0.624 of standing height (ANSUR II 2012 landmark heights); "
    "convex-hull length of the trunk's section, arms cut away by a 5 cm morphological opening"
)
NARROWEST_METHOD = "smallest trunk convex-hull perimeter between 0.58 and 0.68 of standing height, 0.5 % steps"
HIP_METHOD = (
    "largest trunk convex-hull perimeter between 0.42 and 0.58 of standing height (widest part of the buttocks, "
    "WHO 2008), 1 % steps, above the crotch"
)


class NoTrunk(ValueError):
    """No trunk section where one must be: not a standing person, or a broken scan."""


@dataclass
class Measures:
    height_m: float
    area_m2: float
    volume: Volume
    waist: slices.TrunkSlice
    narrowest: slices.TrunkSlice
    hip: slices.TrunkSlice
    axis: np.ndarray
    faces: int
    notes: list[str] = field(default_factory=list)


def sliced_heights(height: float) -> tuple[np.ndarray, np.ndarray]:
    def band(low, high, step):
        return np.arange(round(low / step), round(high / step) + 1) * step * height

    return band(*NARROWEST_BAND, STEP_FRACTION), band(*HIP_BAND, HIP_STEP_FRACTION)


def measure_body(body: Body, volume: Volume | None = None) -> Measures:
    """Every measurement; ``volume`` when it was already measured (the analyzer's own stage)."""
    mesh, height = body.mesh, body.height_m
    axis = slices.body_axis(mesh, AXIS_BAND[0] * height, AXIS_BAND[1] * height)
    narrow_heights, hip_heights = sliced_heights(height)
    waist_height = WHO_WAIST_FRACTION * height
    heights = np.concatenate([[waist_height], narrow_heights, hip_heights])
    found = [
        slices.trunk(parts, axis, h) for parts, h in zip(slices.regions(mesh, heights), heights, strict=True)
    ]
    waist = found[0]
    narrow = [item for item in found[1 : 1 + len(narrow_heights)] if item is not None]
    hips = [item for item in found[1 + len(narrow_heights) :] if item is not None]
    if waist is None or not narrow:
        raise NoTrunk(
            "no trunk section at waist height: the scan does not show a standing person's trunk there (if the scan "
            "lies on its side or is in a T pose, name its up axis)."
        )
    if not hips:
        raise NoTrunk("no trunk section at hip height: the scan does not show a standing person's hips there.")
    return Measures(
        height_m=height,
        area_m2=surface_area(corners(mesh)),
        volume=volume if volume is not None else measure_volume(mesh, body.closed),
        waist=waist,
        narrowest=min(narrow, key=lambda item: item.perimeter_m),
        hip=max(hips, key=lambda item: item.perimeter_m),
        axis=axis,
        faces=len(mesh.faces),
    )


def slice_records(measures: Measures) -> list[dict]:
    """The ``details["slices"]`` list (metres)."""
    return [
        {"name": name, "height_m": round(item.height_m, 4), "perimeter_m": round(item.perimeter_m, 4), "method": method}
        for name, item, method in (
            ("waist", measures.waist, WAIST_METHOD),
            ("narrowest", measures.narrowest, NARROWEST_METHOD),
            ("hip", measures.hip, HIP_METHOD),
        )
    ]
