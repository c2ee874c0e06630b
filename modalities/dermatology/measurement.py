"""The A, B, C and D features of the segmented lesion (E, the comparison with an earlier photo, is in
``evolution``). All at the working size of the photo; sizes are converted to the uploaded photo's pixels
and to millimetres at the end (``measure_features``).

* A - asymmetry. The lesion is bisected by two perpendicular axes through its centroid; as Stolz
  prescribes, the axes are placed where they give the lowest score (every 4 degrees and the principal
  axes of the second moments are tried). About each axis: the shape asymmetry index is the fraction of
  the lesion's area whose mirror image falls outside the lesion (Stoecker et al., Comput Med Imaging
  Graph 1992;16:191, Delta A / A), and the colour asymmetry is the Delta E*ab between the mean colours of
  the two halves. An axis is asymmetric when the index exceeds 0.10 or the colour difference exceeds
  Delta E 10. Score 0-2 = asymmetric axes (Stolz's A); the continuous index reported is the mean shape
  index of the two axes. The thresholds are MediLens's own operating values, not published cut-offs.
* B - border. (1) Compactness index P^2 / (4 pi A) of the sub-pixel contour (1 for a circle; it also
  rises with elongation, so it is reported, not scored). (2) Irregularity index: contour perimeter /
  convex-hull perimeter (the inverse of Russ's "convexity", The Image Processing Handbook): 1 for any
  convex outline whatever its elongation, larger for notched or ragged borders; above 1.10 (MediLens's
  own operating value) the border counts as irregular in the clinical checklist. (3) Stolz's B: the
  lesion is divided into eight 45-degree segments from the first symmetry axis; in each, the colour
  difference from the skin is profiled across the border (signed distance to the contour); the cut-off is
  abrupt when the profile rises from 20% to 80% of its inside-outside contrast within 10% of the lesion's
  equivalent radius (at least 3 working pixels, the blur of the imaging chain; MediLens's own operating
  values). B = abrupt segments, 0-8.
* C - colours. Each lesion pixel (a 2 px rim excluded) is assigned to the nearest of six reference
  colours in CIELAB - white, red, light brown, dark brown, blue-grey, black, the colours of Stolz's C
  (``REFERENCE_COLOURS`` below gives their sRGB values) - white only where the pixel is lighter than
  the skin (Stolz); a colour is present when it covers at least 5% of the lesion. Nearest-reference
  classification is the usual automated approach (e.g. Kasmi & Mokrani, IET Image Process 2016;10:448);
  the reference values and the 5% floor are MediLens's own.
* D - diameter: the maximum Feret diameter (largest distance between two points of the convex hull of
  the contour), in mm when ``pixels_per_mm`` (of the uploaded photo) is given, otherwise in pixels of
  the uploaded photo and flagged "no scale"; above 6 mm is the clinical D (Friedman, Rigel & Kopf, CA
  Cancer J Clin 1985;35:130).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .catalogue import COLOUR_ASYMMETRY_THRESHOLD, SHAPE_ASYMMETRY_THRESHOLD
from .segmentation import MIN_DELTA_E, Segmentation, delta_e, lab_image

ABRUPT_WIDTH_FRACTION = 0.10  # MediLens's own
ABRUPT_MIN_PIXELS = 3.0
COLOUR_SHARE = 0.05  # MediLens's own

# The six colours of Stolz's C, as sRGB (0-255) reference values for nearest-colour classification.
REFERENCE_COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "red": (190, 40, 50),
    "light_brown": (175, 120, 80),
    "dark_brown": (95, 55, 35),
    "blue_grey": (100, 115, 140),
    "black": (30, 25, 25),
}
COLOUR_LABELS = {
    "white": "white",
    "red": "red",
    "light_brown": "light brown",
    "dark_brown": "dark brown",
    "blue_grey": "blue-grey",
    "black": "black",
}


@dataclass
class Geometry:
    area: float  # working px^2 (polygon area of the contour)
    pixel_area: int
    perimeter: float
    hull_perimeter: float
    feret: float  # working px
    feret_ends: tuple[tuple[float, float], tuple[float, float]]  # ((row, col), (row, col)) working px
    centroid: tuple[float, float]  # (row, col)
    contour: Any  # Nx2 (row, col) working px
    principal_angle: float  # radians, of the major axis, in (x right, y down) image coordinates

    @property
    def compactness(self) -> float:
        return self.perimeter**2 / (4 * math.pi * self.area)

    @property
    def irregularity(self) -> float:
        return self.perimeter / self.hull_perimeter

    @property
    def equivalent_radius(self) -> float:
        return math.sqrt(self.area / math.pi)


def _bbox(mask, pad: int, shape):
    import numpy as np

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1 = max(int(rows[0]) - pad, 0), min(int(rows[-1]) + pad + 1, shape[0])
    c0, c1 = max(int(cols[0]) - pad, 0), min(int(cols[-1]) + pad + 1, shape[1])
    return r0, r1, c0, c1


def measure_geometry(mask) -> Geometry:
    """Contour (marching squares on the mask smoothed by sigma 1 px), its area and perimeter, the convex
    hull, the max Feret diameter and the principal axis."""
    import numpy as np
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist, squareform
    from skimage import filters, measure

    r0, r1, c0, c1 = _bbox(mask, 3, mask.shape)
    crop = np.pad(mask[r0:r1, c0:c1], 3).astype(np.float32)
    contours = measure.find_contours(filters.gaussian(crop, sigma=1.0), 0.5)
    contour = max(contours, key=len) + np.array([r0 - 3, c0 - 3])
    closed = contour if np.allclose(contour[0], contour[-1]) else np.vstack([contour, contour[:1]])
    steps = np.diff(closed, axis=0)
    perimeter = float(np.hypot(steps[:, 0], steps[:, 1]).sum())
    rows, cols = closed[:, 0], closed[:, 1]
    area = float(abs(np.dot(cols[:-1], rows[1:]) - np.dot(cols[1:], rows[:-1])) / 2)
    hull = ConvexHull(contour)
    vertices = contour[hull.vertices]
    distances = squareform(pdist(vertices))
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    ys, xs = np.nonzero(mask)
    cy, cx = float(ys.mean()), float(xs.mean())
    dy, dx = ys - cy, xs - cx
    mu20, mu02, mu11 = float((dx * dx).mean()), float((dy * dy).mean()), float((dx * dy).mean())
    principal = 0.5 * math.atan2(2 * mu11, mu20 - mu02)
    return Geometry(
        area=area,
        pixel_area=int(mask.sum()),
        perimeter=perimeter,
        hull_perimeter=float(hull.area),  # in 2-D, ConvexHull.area is the perimeter
        feret=float(distances[i, j]),
        feret_ends=(tuple(map(float, vertices[i])), tuple(map(float, vertices[j]))),
        centroid=(cy, cx),
        contour=contour,
        principal_angle=principal,
    )


@dataclass
class Asymmetry:
    score: int
    index: float
    angle: float  # radians: the first axis, (x right, y down)
    axes: list[dict] = field(default_factory=list)


def measure_asymmetry(mask, lab, principal_angle: float) -> Asymmetry:
    """Stolz's A with the axes placed for the lowest score (see the module docstring)."""
    import numpy as np
    from skimage.color import deltaE_cie76
    from skimage.measure import block_reduce

    r0, r1, c0, c1 = _bbox(mask, 2, mask.shape)
    crop, lab_crop = mask[r0:r1, c0:c1], lab[r0:r1, c0:c1]
    factor = max(1, math.ceil(max(crop.shape) / 120))  # about 120 px across: areas of halves to ~1%
    if factor > 1:
        crop = block_reduce(crop.astype(np.float32), (factor, factor), np.mean) > 0.5
        lab_crop = block_reduce(lab_crop, (factor, factor, 1), np.mean)
    ys, xs = np.nonzero(crop)
    cy, cx = ys.mean(), xs.mean()
    dy, dx = ys - cy, xs - cx
    colours = lab_crop[ys, xs].astype(np.float64)
    colour_total = colours.sum(axis=0)
    height, width = crop.shape

    def about(angle: float) -> dict:
        ux, uy = math.cos(angle), math.sin(angle)
        along = dx * ux + dy * uy
        mirror_x = np.rint(cx + 2 * along * ux - dx).astype(np.intp)
        mirror_y = np.rint(cy + 2 * along * uy - dy).astype(np.intp)
        inside = (mirror_x >= 0) & (mirror_x < width) & (mirror_y >= 0) & (mirror_y < height)
        matched = np.count_nonzero(crop[mirror_y[inside], mirror_x[inside]])
        shape_index = float(1 - matched / len(xs))
        side = (dy * ux - dx * uy) > 0
        n_side = int(np.count_nonzero(side))
        if n_side in (0, len(xs)):
            colour_difference = 0.0
        else:
            sum_side = side.astype(np.float64) @ colours
            mean_side, mean_other = sum_side / n_side, (colour_total - sum_side) / (len(xs) - n_side)
            colour_difference = float(deltaE_cie76(mean_side, mean_other))
        reasons = []
        if shape_index > SHAPE_ASYMMETRY_THRESHOLD:
            reasons.append("shape")
        if colour_difference > COLOUR_ASYMMETRY_THRESHOLD:
            reasons.append("colour")
        return {
            "angle_degrees": round(math.degrees(angle) % 180, 1),
            "shape_index": round(shape_index, 4),
            "colour_difference": round(colour_difference, 2),
            "asymmetric": bool(reasons),
            "reasons": reasons,
        }

    candidates = [principal_angle % (math.pi / 2), *np.deg2rad(np.arange(0, 90, 4))]
    best = None
    for angle in candidates:
        pair = [about(angle), about(angle + math.pi / 2)]
        key = (
            sum(axis["asymmetric"] for axis in pair),
            pair[0]["shape_index"] + pair[1]["shape_index"],
            pair[0]["colour_difference"] + pair[1]["colour_difference"],
        )
        if best is None or key < best[0]:
            best = (key, float(angle), pair)
    (score, shape_sum, _), angle, pair = best
    return Asymmetry(score=int(score), index=round(shape_sum / 2, 4), angle=angle, axes=pair)


@dataclass
class BorderAbruptness:
    abrupt_segments: int
    segments: list[dict] = field(default_factory=list)
    width_limit: float = 0.0


def measure_border_abruptness(mask, rgb, skin_lab, geometry: Geometry, first_axis: float) -> BorderAbruptness:
    """Stolz's B: in eight 45-degree segments, is the cut-off of the lesion's colour at its border abrupt?

    Profiled on the photo smoothed by only 1 px (the segmentation's smoothing would blur every edge)."""
    import numpy as np
    from scipy import ndimage

    radius = geometry.equivalent_radius
    band = max(6, round(0.25 * radius))
    width_limit = max(ABRUPT_MIN_PIXELS, ABRUPT_WIDTH_FRACTION * radius)
    r0, r1, c0, c1 = _bbox(mask, band + 3, mask.shape)
    crop = mask[r0:r1, c0:c1]
    delta = delta_e(lab_image(rgb[r0:r1, c0:c1], 1.0), skin_lab)
    signed = np.where(crop, ndimage.distance_transform_edt(crop) - 0.5, -(ndimage.distance_transform_edt(~crop) - 0.5))
    ys, xs = np.nonzero(np.abs(signed) <= band)
    cy, cx = geometry.centroid[0] - r0, geometry.centroid[1] - c0
    angle = (np.arctan2(ys - cy, xs - cx) - first_axis) % (2 * math.pi)
    segment_of = np.minimum((angle // (math.pi / 4)).astype(int), 7)
    bins = np.rint(signed[ys, xs]).astype(int) + band
    values = delta[ys, xs]
    positions = np.arange(-band, band + 1)
    segments = []
    for k in range(8):
        selected = segment_of == k
        counts = np.bincount(bins[selected], minlength=2 * band + 1)
        sums = np.bincount(bins[selected], weights=values[selected], minlength=2 * band + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            profile = sums / counts
        outer = profile[(positions <= -band / 2) & (counts > 0)]
        inner = profile[(positions >= band / 2) & (counts > 0)]
        if len(inner) == 0:  # a thin part of the lesion: take what lies inside
            inner = profile[(positions > 0) & (counts > 0)]
        entry = {"segment": k + 1, "contrast": None, "transition_width": None, "abrupt": False}
        if len(outer) and len(inner):
            contrast = float(inner.mean() - outer.mean())
            entry["contrast"] = round(contrast, 2)
            if contrast >= MIN_DELTA_E:
                valid = counts > 0
                x, q = positions[valid], (profile[valid] - outer.mean()) / contrast
                q = np.maximum.accumulate(q)  # rising from outside in; noise cannot cross a level twice
                width = _crossing(x, q, 0.8) - _crossing(x, q, 0.2)
                entry["transition_width"] = round(width, 2) if math.isfinite(width) else None
                entry["abrupt"] = bool(width <= width_limit)
        segments.append(entry)
    return BorderAbruptness(
        abrupt_segments=sum(s["abrupt"] for s in segments), segments=segments, width_limit=round(width_limit, 2)
    )


def _crossing(x, q, level: float) -> float:
    import numpy as np

    above = np.flatnonzero(q >= level)
    if len(above) == 0:
        return math.inf
    i = int(above[0])
    if i == 0:
        return float(x[0])
    x0, x1, q0, q1 = float(x[i - 1]), float(x[i]), float(q[i - 1]), float(q[i])
    return x0 + (level - q0) / (q1 - q0) * (x1 - x0) if q1 > q0 else x1


@dataclass
class Colours:
    present: list[str]
    shares: dict[str, float]

    @property
    def count(self) -> int:
        return len(self.present)


def _reference_lab():
    import numpy as np
    from skimage import color

    rgb = np.array(list(REFERENCE_COLOURS.values()), dtype=np.float64).reshape(1, -1, 3) / 255
    return color.rgb2lab(rgb).reshape(-1, 3)


def measure_colours(mask, lab, skin_lightness: float) -> Colours:
    """Stolz's C: the reference colours covering at least 5% of the lesion (a 2 px rim excluded)."""
    import numpy as np
    from scipy import ndimage
    from skimage.color import deltaE_cie76
    from skimage.morphology import disk

    core = ndimage.binary_erosion(mask, structure=disk(2)) if mask.sum() > 2000 else mask
    pixels = lab[core]
    if len(pixels) > 100_000:  # a regular sample: shares to within a fraction of a percent
        pixels = pixels[:: len(pixels) // 100_000 + 1]
    references = _reference_lab()
    distance = deltaE_cie76(pixels[:, None, :], references[None, :, :])
    names = list(REFERENCE_COLOURS)
    white = names.index("white")
    distance[pixels[:, 0] <= skin_lightness, white] = np.inf  # white only where lighter than the skin (Stolz)
    nearest = np.argmin(distance, axis=1)
    shares = np.bincount(nearest, minlength=len(names)) / len(nearest)
    share_of = {name: round(float(shares[i]), 4) for i, name in enumerate(names)}
    present = sorted((n for n in names if share_of[n] >= COLOUR_SHARE), key=lambda n: -share_of[n])
    return Colours(present=present, shares=share_of)


@dataclass
class Features:
    """Everything measured on one photo, sizes also in the uploaded photo's pixels and (with a scale) mm."""

    geometry: Geometry
    asymmetry: Asymmetry
    border: BorderAbruptness
    colours: Colours
    diameter_px: float  # max Feret diameter, pixels of the uploaded photo
    area_px: float
    diameter_mm: float | None
    area_mm2: float | None


def measure_features(photo, segmentation: Segmentation, pixels_per_mm: float | None) -> Features:
    """A, B, C and D of the segmented lesion; ``pixels_per_mm`` is of the uploaded photo (None: no scale)."""
    mask = segmentation.mask
    geometry = measure_geometry(mask)
    asymmetry = measure_asymmetry(mask, segmentation.lab, geometry.principal_angle)
    border = measure_border_abruptness(mask, photo.rgb, segmentation.skin_lab, geometry, asymmetry.angle)
    colours = measure_colours(mask, segmentation.lab, segmentation.skin_lab[0])
    working_per_mm = pixels_per_mm * photo.scale if pixels_per_mm else None
    return Features(
        geometry=geometry,
        asymmetry=asymmetry,
        border=border,
        colours=colours,
        diameter_px=geometry.feret / photo.scale,
        area_px=geometry.area / photo.scale**2,
        diameter_mm=geometry.feret / working_per_mm if working_per_mm else None,
        area_mm2=geometry.area / working_per_mm**2 if working_per_mm else None,
    )


def feature_values(features: Features) -> dict[str, float]:
    """The catalogue biomarkers of these features, unrounded (``modalities.base.rounded`` rounds them to
    their display precision before any rule reads them)."""
    values = {
        "lesion_asymmetry_score": float(features.asymmetry.score),
        "lesion_asymmetry_index": features.asymmetry.index,
        "border_irregularity_index": features.geometry.irregularity,
        "border_compactness_index": features.geometry.compactness,
        "border_abrupt_segments": float(features.border.abrupt_segments),
        "colour_count": float(features.colours.count),
        "lesion_diameter_pixels": features.diameter_px,
    }
    if features.diameter_mm is not None:
        values["lesion_diameter"] = features.diameter_mm
        values["lesion_area"] = features.area_mm2
    return values
