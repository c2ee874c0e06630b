"""The dermatology modality: one photo of one skin lesion in; its ABCD(E) features, the Stolz total
dermoscopy score where it applies, and a registered model's output when one is active, out.

What is measured, and how (all at a working size of at most 1024 px on the long side; a JPEG is decoded
at a reduced DCT scale first, so a 48-megapixel photo costs little more than a 1-megapixel one):

* Segmentation (scikit-image / SciPy). The photo is smoothed (Gaussian, sigma 2 px at 1024 px) and
  converted to CIELAB. The skin colour is the median of the outer 8% frame of the photo; every pixel's
  colour difference from it (CIE76 Delta E*ab) is thresholded by hysteresis: Otsu's threshold (Otsu, IEEE
  Trans Syst Man Cybern 1979;9:62), never below Delta E 8 (a plainly visible difference; the
  just-noticeable one is about 2.3, Sharma, Digital Color Imaging Handbook 2003), seeds the lesion, which
  grows into pixels above half that threshold (a dark lesion pulls Otsu's threshold above its own
  light-brown parts). Opening (disk radius 2 px), closing (radius 4 px: the seams where two lesion colours
  blend into something skin-like), hole filling, 8-connected components; the lesion is the largest
  component that does not come within 6 px of the photo's edge. A dark dermatoscope rim (L* < 10 joined
  to the edge) is outside the field of view. Failures say why: no region differs from the skin, the
  region is too small, it covers most of the photo, or it touches the edge of the photo or of the
  dermatoscope's field. Sizes come out about 1% large on a sharp edge (the low threshold crosses the
  smoothed edge ~1.3 px outside it); the tests hold them to that.
* A - asymmetry. The lesion is bisected by two perpendicular axes through its centroid; as Stolz
  prescribes, the axes are placed where they give the lowest score (every 4 degrees and the principal
  axes of the second moments are tried). About each axis: the shape asymmetry index is the fraction of
  the lesion's area whose mirror image falls outside the lesion (Stoecker et al., Comput Med Imaging
  Graph 1992;16:191, Delta A / A), and the colour asymmetry is the Delta E*ab between the mean colours of
  the two halves. An axis is asymmetric when the index exceeds 0.10 or the colour difference exceeds
  Delta E 10. Score 0-2 = asymmetric axes (Stolz's A); the continuous index reported is the mean shape
  index of the two axes. The thresholds are MediLens operating values, not published cut-offs.
* B - border. (1) Compactness index P^2 / (4 pi A) of the sub-pixel contour (1 for a circle; it also
  rises with elongation, so it is reported, not scored). (2) Irregularity index: contour perimeter /
  convex-hull perimeter (the inverse of Russ's "convexity", The Image Processing Handbook): 1 for any
  convex outline whatever its elongation, larger for notched or ragged borders; above 1.10 (operating
  value) the border counts as irregular in the clinical checklist. (3) Stolz's B: the lesion is divided
  into eight 45-degree segments from the first symmetry axis; in each, the colour difference from the
  skin is profiled across the border (signed distance to the contour); the cut-off is abrupt when the
  profile rises from 20% to 80% of its inside-outside contrast within 10% of the lesion's equivalent
  radius (at least 3 working pixels, the blur of the imaging chain). B = abrupt segments, 0-8.
* C - colours. Each lesion pixel (a 2 px rim excluded) is assigned to the nearest of six reference
  colours in CIELAB - white, red, light brown, dark brown, blue-grey, black, the colours of Stolz's C
  (``REFERENCE_COLOURS`` below gives their sRGB values) - white only where the pixel is lighter than
  the skin (Stolz); a colour is present when it covers at least 5% of the lesion. Nearest-reference
  classification is the usual automated approach (e.g. Kasmi & Mokrani, IET Image Process 2016;10:448);
  the reference values and the 5% floor are MediLens's.
* D - diameter: the maximum Feret diameter (largest distance between two points of the convex hull of
  the contour), in mm when ``pixels_per_mm`` (of the uploaded photo) is given, otherwise in pixels of
  the uploaded photo and flagged "no scale"; above 6 mm is the clinical D (Friedman, Rigel & Kopf, CA
  Cancer J Clin 1985;35:130).
* E - evolution (Abbasi et al., JAMA 2004;292:2771): see ``evolution()``. The analyzer never queries
  the database, so the earlier measurements of the same lesion arrive as the resolved input
  ``previous`` = {assessment_id, measured_at, diameter_mm, area_mm2, diameter_px, area_px,
  colour_count, asymmetry}, filled at submission from the patient's latest completed dermatology
  assessment with the same ``lesion_id`` (``previous_measurements()`` builds it from that assessment's
  biomarkers). Sizes are compared only when both photos had a scale: pixels depend on camera distance.
* Stolz total dermoscopy score, TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D (Stolz et al., Eur J Dermatol
  1994;4:521; Nachbar et al., J Am Acad Dermatol 1994;30:551), D being the number of dermoscopic
  structures (network, structureless areas, dots, globules, branched streaks) entered by the clinician.
  Only for dermoscopy images, and only when that count is given. < 4.75 benign, 4.75-5.45 suspicious,
  > 5.45 highly suspicious of melanoma. A, B and C here are automated; D is the clinician's.

Risk rule (``risk_score`` 0-100, ``risk_level``):

* With a TDS: risk_score = (TDS - 1.0) / (8.9 - 1.0) x 100, the TDS rescaled over its possible range
  (1.0 to 8.9; not a probability); risk_level low (benign, TDS < 4.75), intermediate (suspicious,
  4.75-5.45), high (TDS > 5.45).
* Otherwise, the clinical ABCD(E) checklist: A (asymmetric about at least one axis), B (irregularity
  index > 1.10), C (3 or more colours), D (diameter > 6 mm; evaluable only with a scale), E (evolving;
  evaluable only with an earlier assessment of the lesion). risk_score = 100 x positive / evaluable;
  risk_level low (none positive), intermediate (1-2), high (3 or more).
* Either way, an evolving lesion is at least "intermediate". This is a count of features that warrant a
  clinician's look, not a diagnosis. Confidence is None: no method here yields a calibrated one.

A model registered for dermatology and active for the organization (``modalities.runtime``) runs on the
working image; its output is reported beside the measurements with its version, and its saliency map is
under the explanation overlay. It never changes the risk score: a reference model is not for clinical use.
"""

from __future__ import annotations

import importlib
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django import forms

from .base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    BiomarkerSpec,
    DemoCase,
    InputError,
    StageSpec,
)
from .registry import register

METHOD_VERSION = "dermatology-abcd 1.0"

# --- sources ----------------------------------------------------------------------------------------------
STOLZ = (
    "Stolz W et al., Eur J Dermatol 1994;4:521; Nachbar F et al., J Am Acad Dermatol 1994;30:551 "
    "(ABCD rule of dermoscopy, TDS = 1.3A + 0.1B + 0.5C + 0.5D)"
)
STOECKER = "Stoecker WV et al., Comput Med Imaging Graph 1992;16:191 (asymmetry index, non-overlapping area / area)"
FRIEDMAN = "Friedman RJ, Rigel DS, Kopf AW, CA Cancer J Clin 1985;35:130 (ABCD: diameter > 6 mm)"
ABBASI = "Abbasi NR et al., JAMA 2004;292:2771 (ABCDE: E for evolving)"
COMPACTNESS = "Compactness index P^2/(4 pi A) (Maglogiannis & Doukas, IEEE Trans Inf Technol Biomed 2009;13:721)"
CONVEXITY = "Perimeter / convex-hull perimeter (inverse of convexity, Russ, The Image Processing Handbook)"
OPERATING = "MediLens operating threshold, not a published cut-off"

# --- thresholds (each documented in the module docstring) -------------------------------------------------
WORKING_LONG_SIDE = 1024
MIN_SHORT_SIDE = 128  # pixels of the uploaded photo
MIN_LESION_PIXELS = 400  # at the working size: about 22 px across
MIN_DELTA_E = 8.0
SKIN_FRAME = 0.08
VIGNETTE_LIGHTNESS = 10.0
WHOLE_PHOTO_FRACTION = 0.8
SHAPE_ASYMMETRY_THRESHOLD = 0.10
COLOUR_ASYMMETRY_THRESHOLD = 10.0
IRREGULARITY_THRESHOLD = 1.10
ABRUPT_WIDTH_FRACTION = 0.10
ABRUPT_MIN_PIXELS = 3.0
COLOUR_SHARE = 0.05
COLOUR_CRITERION = 3
DIAMETER_CRITERION_MM = 6.0
DIAMETER_GROWTH_MM = 1.0
AREA_GROWTH_PERCENT = 25.0
MAX_PIXELS_PER_MM = 1000.0

TDS_MIN = 1.0  # A 0, B 0, C 1, D 1
TDS_MAX = 8.9  # A 2, B 8, C 6, D 5
TDS_BENIGN_BELOW = 4.75
TDS_SUSPICIOUS_UP_TO = 5.45

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

IMAGE_TYPES = ("clinical", "dermoscopy")

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec("lesion_asymmetry_score", "Asymmetry (axes, A)", "lesion_shape", "axes", STOLZ, reference_high=0),
        BiomarkerSpec(
            "lesion_asymmetry_index",
            "Shape asymmetry index",
            "lesion_shape",
            "fraction",
            f"{STOECKER}; 0.10: {OPERATING}",
            reference_high=SHAPE_ASYMMETRY_THRESHOLD,
        ),
        BiomarkerSpec(
            "border_irregularity_index",
            "Border irregularity index",
            "lesion_border",
            "ratio",
            f"{CONVEXITY}; 1.10: {OPERATING}",
            reference_high=IRREGULARITY_THRESHOLD,
        ),
        BiomarkerSpec(
            "border_compactness_index",
            "Compactness index",
            "lesion_border",
            "ratio",
            f"{COMPACTNESS} (also rises with elongation: no cut-off, shown for trend)",
        ),
        BiomarkerSpec(
            "border_abrupt_segments",
            "Abrupt border segments (B)",
            "lesion_border",
            "segments",
            f"{STOLZ}; abruptness measured as described in modalities/dermatology.py ({OPERATING})",
        ),
        BiomarkerSpec(
            "colour_count",
            "Colours present (C)",
            "lesion_colour",
            "colours",
            f"{STOLZ} (six colours); 3 or more as the clinical C: {OPERATING}",
            reference_high=COLOUR_CRITERION - 1,
        ),
        BiomarkerSpec(
            "lesion_diameter",
            "Diameter (max Feret)",
            "lesion_size",
            "mm",
            FRIEDMAN,
            reference_high=DIAMETER_CRITERION_MM,
        ),
        BiomarkerSpec(
            "lesion_diameter_pixels",
            "Diameter (max Feret, no scale)",
            "lesion_size",
            "px",
            "Max Feret diameter in pixels of the uploaded photo: no scale was given, so no range applies",
        ),
        BiomarkerSpec("lesion_area", "Lesion area", "lesion_size", "mm2", "Area of the segmented lesion (no range)"),
        BiomarkerSpec(
            "total_dermoscopy_score",
            "Total dermoscopy score (Stolz TDS)",
            "dermoscopy_score",
            "score",
            STOLZ,
            reference_high=TDS_BENIGN_BELOW,
            critical_high=TDS_SUSPICIOUS_UP_TO,
            abnormal_at=frozenset({"reference_high"}),  # 4.75 is already suspicious; 5.45 is not yet malignant
        ),
        BiomarkerSpec(
            "lesion_diameter_change",
            "Diameter change since last photo",
            "lesion_evolution",
            "mm",
            f"{ABBASI}; growth of more than 1 mm: {OPERATING}",
            reference_high=DIAMETER_GROWTH_MM,
        ),
        BiomarkerSpec(
            "lesion_area_change",
            "Area change since last photo",
            "lesion_evolution",
            "%",
            f"{ABBASI}; growth of more than 25%: {OPERATING}",
            reference_high=AREA_GROWTH_PERCENT,
        ),
    ]
}


class PhotoProblem(ValueError):
    """The photo cannot be analysed; the message says why, in a clinician's words."""


# --- the Stolz total dermoscopy score ---------------------------------------------------------------------
def total_dermoscopy_score(*, asymmetry: int, border: int, colours: int, structures: int) -> float:
    """TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D (Stolz 1994; Nachbar 1994), rounded to 2 decimals (every
    attainable value is a multiple of 0.1). A 0-2 asymmetric axes, B 0-8 abrupt border segments, C 1-6
    colours, D 1-5 dermoscopic structures."""
    for name, value, low, high in (
        ("asymmetry", asymmetry, 0, 2),
        ("border", border, 0, 8),
        ("colours", colours, 1, 6),
        ("structures", structures, 1, 5),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r})")
    return round(1.3 * asymmetry + 0.1 * border + 0.5 * colours + 0.5 * structures, 2)


def tds_category(tds: float) -> str:
    """Stolz's bands: < 4.75 benign, 4.75-5.45 suspicious, > 5.45 highly suspicious of melanoma."""
    if tds < TDS_BENIGN_BELOW:
        return "benign"
    if tds <= TDS_SUSPICIOUS_UP_TO:
        return "suspicious"
    return "highly suspicious"


def tds_risk(tds: float) -> tuple[float, str]:
    """(risk_score, risk_level) from a TDS: the score rescaled over its range 1.0-8.9 to 0-100."""
    score = round((tds - TDS_MIN) / (TDS_MAX - TDS_MIN) * 100, 1)
    level = {"benign": "low", "suspicious": "intermediate", "highly suspicious": "high"}[tds_category(tds)]
    return score, level


# --- evolution ---------------------------------------------------------------------------------------------
PREVIOUS_KEYS = {
    "assessment_id",
    "measured_at",
    "diameter_mm",
    "area_mm2",
    "diameter_px",
    "area_px",
    "colour_count",
    "asymmetry",
}


def previous_measurements(*, biomarkers: dict[str, float], measured_at, assessment_id=None) -> dict[str, Any]:
    """The ``previous`` input, built from an earlier dermatology assessment's biomarkers (name -> value)."""

    def number(name):
        value = biomarkers.get(name)
        return None if value is None else float(value)

    when = measured_at.isoformat() if hasattr(measured_at, "isoformat") else str(measured_at)
    colour_count = number("colour_count")
    asymmetry = number("lesion_asymmetry_score")
    return {
        "assessment_id": None if assessment_id is None else str(assessment_id),
        "measured_at": when,
        "diameter_mm": number("lesion_diameter"),
        "area_mm2": number("lesion_area"),
        "diameter_px": number("lesion_diameter_pixels"),
        "area_px": None,
        "colour_count": None if colour_count is None else int(colour_count),
        "asymmetry": None if asymmetry is None else int(asymmetry),
    }


def _parse_when(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def evolution(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Compare an earlier measurement of the same lesion with the current one (Abbasi 2004, "E").

    Both dicts use the keys of ``PREVIOUS_KEYS`` (any may be None). Sizes are compared in mm only: sizes
    in pixels depend on the camera distance. Evolving = diameter grown by > 1 mm, or area by > 25%, or
    a new colour, or a higher asymmetry score (operating thresholds, MediLens's).
    """
    changes: list[str] = []
    not_compared: list[str] = []
    out: dict[str, Any] = {
        "compared_with": previous.get("assessment_id"),
        "previous_measured_at": previous.get("measured_at"),
        "interval_days": None,
        "diameter_change_mm": None,
        "area_change_percent": None,
        "colour_count_change": None,
        "asymmetry_change": None,
    }
    before, now = _parse_when(previous.get("measured_at")), _parse_when(current.get("measured_at"))
    if before is not None and now is not None:
        out["interval_days"] = round((now - before).total_seconds() / 86400, 1)

    d0, d1 = previous.get("diameter_mm"), current.get("diameter_mm")
    if d0 is not None and d1 is not None:
        out["diameter_change_mm"] = round(d1 - d0, 2)
        if d1 - d0 > DIAMETER_GROWTH_MM:
            changes.append(f"diameter grew by {d1 - d0:.1f} mm ({d0:.1f} to {d1:.1f} mm)")
    a0, a1 = previous.get("area_mm2"), current.get("area_mm2")
    if a0 is not None and a1 is not None and a0 > 0:
        percent = (a1 - a0) / a0 * 100
        out["area_change_percent"] = round(percent, 1)
        if percent > AREA_GROWTH_PERCENT:
            changes.append(f"area grew by {percent:.0f}% ({a0:.1f} to {a1:.1f} mm2)")
    if out["diameter_change_mm"] is None and out["area_change_percent"] is None:
        not_compared.append(
            "size: a scale (pixels per mm) is needed in both photos; sizes in pixels depend on camera distance"
        )
    c0, c1 = previous.get("colour_count"), current.get("colour_count")
    if c0 is not None and c1 is not None:
        out["colour_count_change"] = int(c1 - c0)
        if c1 > c0:
            changes.append(f"colours went from {c0} to {c1}")
    else:
        not_compared.append("colours: not measured in both")
    s0, s1 = previous.get("asymmetry"), current.get("asymmetry")
    if s0 is not None and s1 is not None:
        out["asymmetry_change"] = int(s1 - s0)
        if s1 > s0:
            changes.append(f"asymmetry went from {s0} to {s1} axes")
    else:
        not_compared.append("asymmetry: not measured in both")
    out["changes"] = changes
    out["not_compared"] = not_compared
    out["evolving"] = bool(changes)
    return out


# --- checklist and risk ------------------------------------------------------------------------------------
def abcd_checklist(
    *, asymmetry_score: int, irregularity: float, colour_count: int, diameter_mm: float | None, evolving: bool | None
) -> dict[str, Any]:
    """The clinical ABCD(E) checklist: which criteria are evaluable and positive, and the rule's result."""
    criteria = [
        {
            "criterion": "A",
            "factor": "lesion_asymmetry_score",
            "value": asymmetry_score,
            "rule": "asymmetric about at least one axis",
            "positive": asymmetry_score >= 1,
        },
        {
            "criterion": "B",
            "factor": "border_irregularity_index",
            "value": round(irregularity, 3),
            "rule": f"irregularity index > {IRREGULARITY_THRESHOLD}",
            "positive": irregularity > IRREGULARITY_THRESHOLD,
        },
        {
            "criterion": "C",
            "factor": "colour_count",
            "value": colour_count,
            "rule": f"{COLOUR_CRITERION} or more colours",
            "positive": colour_count >= COLOUR_CRITERION,
        },
        {
            "criterion": "D",
            "factor": "lesion_diameter",
            "value": None if diameter_mm is None else round(diameter_mm, 2),
            "rule": f"diameter > {DIAMETER_CRITERION_MM:g} mm",
            "positive": None if diameter_mm is None else diameter_mm > DIAMETER_CRITERION_MM,
        },
        {
            "criterion": "E",
            "factor": "evolution",
            "value": evolving,
            "rule": "evolving since the earlier photo of this lesion",
            "positive": evolving,
        },
    ]
    evaluable = [c for c in criteria if c["positive"] is not None]
    positive = [c for c in evaluable if c["positive"]]
    score = round(100 * len(positive) / len(evaluable), 1)
    level = "low" if not positive else ("intermediate" if len(positive) < 3 else "high")
    return {
        "criteria": criteria,
        "evaluable": len(evaluable),
        "positive": len(positive),
        "risk_score": score,
        "risk_level": level,
    }


# --- decoding and photo checks -----------------------------------------------------------------------------
@dataclass
class Photo:
    rgb: Any  # float32 HxWx3 in 0..1, at the working size
    original_size: tuple[int, int]  # (width, height) of the uploaded photo
    scale: float  # working pixels per uploaded-photo pixel

    @property
    def working_size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def decode_photo(stream, *, long_side: int = WORKING_LONG_SIDE) -> Photo:
    """Decode a JPEG/PNG at (at most) ``long_side`` px on the long side; refuse photos that cannot be read
    or analysed (too small, greyscale, black, blown out, blank). Raises PhotoProblem."""
    import numpy as np
    from PIL import Image

    from . import imaging

    try:
        image = Image.open(stream)
        original = image.size
        if image.mode in _GREY_MODES:
            raise PhotoProblem("the photo is greyscale: lesion colours cannot be assessed; upload a colour photo.")
        if min(original) < MIN_SHORT_SIDE:
            raise PhotoProblem(
                f"the photo is {original[0]}x{original[1]} pixels; this analysis needs at least "
                f"{MIN_SHORT_SIDE} pixels on the short side."
            )
        zoom = min(1.0, long_side / max(original))
        target = (max(1, round(original[0] * zoom)), max(1, round(original[1] * zoom)))
        image.draft("RGB", target)  # JPEG: decode at a reduced DCT scale, never below the target size
        rgb = imaging.pil_to_rgb(image)
    except PhotoProblem:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoProblem("the image is truncated or corrupt and cannot be decoded.") from None
    if (rgb.shape[1], rgb.shape[0]) != target:
        rgb = imaging.resize_rgb(rgb, target)
    problem = photo_problem(rgb)
    if problem:
        raise PhotoProblem(problem)
    scale = (rgb.shape[1] / original[0] + rgb.shape[0] / original[1]) / 2
    return Photo(rgb=rgb.astype(np.float32) / 255.0, original_size=original, scale=scale)


def photo_problem(rgb) -> str | None:
    """What makes a decoded photo (uint8 HxWx3) unusable, or None. Cheap: also run at upload."""
    import numpy as np

    pixels = rgb.reshape(-1, 3)
    if len(pixels) > 50_000:  # a regular sample is enough for these statistics
        pixels = pixels[:: len(pixels) // 50_000 + 1]
    pixels = pixels.astype(np.float32)
    luma = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    brightest = float(np.percentile(luma, 99))
    if brightest < 16:
        return (
            f"the photo is almost black (its brightest 1% of pixels reach {brightest:.0f} of 255): "
            "no lesion can be seen; retake it with light on the skin."
        )
    saturated = float(np.mean(luma >= 250))
    if saturated > 0.5:
        return f"the photo is overexposed ({saturated:.0%} of it is pure white): retake it with less light."
    if float(np.std(luma)) < 1.0:
        return "the photo is a single flat colour: no skin or lesion can be seen in it."
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    if float(np.percentile(spread, 99)) < 3:
        return "the photo is greyscale: lesion colours cannot be assessed; upload a colour photo."
    return None


# --- segmentation ------------------------------------------------------------------------------------------
@dataclass
class Segmentation:
    mask: Any  # bool HxW, the lesion
    lab: Any  # float32 HxWx3 CIELAB of the smoothed photo (sigma 2 px at 1024 px)
    skin_lab: tuple[float, float, float]
    threshold: float
    contrast: float  # median Delta E of the lesion from the skin
    field_fraction: float  # of the photo inside the dermatoscope's field (1.0 for a clinical photo)


def _disk(radius: int):
    import numpy as np

    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def _edge_labels(labels, width: int = 1):
    """Labels present within ``width`` px of the photo's edge."""
    import numpy as np

    return np.unique(
        np.concatenate(
            [labels[:width].ravel(), labels[-width:].ravel(), labels[:, :width].ravel(), labels[:, -width:].ravel()]
        )
    )


def _outside_field(lightness):
    """Pixels of a dark dermatoscope rim: L* below 10 and joined to the photo's edge."""
    import numpy as np
    from scipy import ndimage

    dark = lightness < VIGNETTE_LIGHTNESS
    if not dark.any():
        return dark
    labels, _ = ndimage.label(dark)
    edge = _edge_labels(labels)
    return np.isin(labels, edge[edge > 0])


def _fill_holes(mask):
    """Background regions not joined to the photo's edge become foreground (one labelling pass: much faster
    than ndimage.binary_fill_holes' iterated dilation on a full photo)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(~mask)
    keep = np.zeros(count + 1, dtype=bool)
    keep[_edge_labels(labels)] = True
    keep[0] = False
    return ~keep[labels]


def lab_image(rgb, sigma: float):
    """CIELAB (float32) of an RGB image (float, 0..1) smoothed by a Gaussian of ``sigma`` px."""
    import numpy as np
    from scipy import ndimage
    from skimage import color

    smooth = ndimage.gaussian_filter(rgb, sigma=(sigma, sigma, 0), truncate=3.0)
    return color.rgb2lab(np.clip(smooth, 0, 1)).astype(np.float32)


def delta_e(lab, reference):
    """CIE76 colour difference of every pixel from one reference colour."""
    import numpy as np

    d0, d1, d2 = lab[..., 0] - reference[0], lab[..., 1] - reference[1], lab[..., 2] - reference[2]
    return np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)


def segment_lesion(rgb) -> Segmentation:
    """Find the lesion in a working-size photo (float HxWx3, 0..1). Raises PhotoProblem with the reason."""
    import numpy as np
    from scipy import ndimage
    from skimage import filters

    h, w, _ = rgb.shape
    lab = lab_image(rgb, max(1.0, max(h, w) / 512))
    outside = _outside_field(lab[..., 0])
    field_mask = ~outside
    margin = max(4, round(SKIN_FRAME * min(h, w)))
    frame = np.zeros((h, w), dtype=bool)
    frame[:margin], frame[-margin:], frame[:, :margin], frame[:, -margin:] = True, True, True, True
    skin_pixels = lab[frame & field_mask]
    if len(skin_pixels) < 0.25 * frame.sum():
        raise PhotoProblem(
            "too little skin is visible at the edges of the photo to tell the lesion from the skin around it: "
            "frame the lesion with a margin of skin all round."
        )
    skin = np.median(skin_pixels, axis=0)
    difference = delta_e(lab, skin)
    threshold = max(float(filters.threshold_otsu(difference[field_mask])), MIN_DELTA_E)
    if not (difference[field_mask] > threshold).any():
        raise PhotoProblem(
            f"no lesion found: nothing in the photo differs from the skin at its edges by more than Delta E "
            f"{MIN_DELTA_E:g} (a plainly visible colour difference). If the lesion fills the photo, take it from "
            "further away, with skin all round it."
        )
    # Hysteresis: Otsu's threshold seeds the lesion, which then grows into pixels at half that difference
    # (a dark lesion pulls Otsu's threshold above its light-brown parts); closing bridges the thin seams
    # where two lesion colours blend into something skin-like, and holes are filled.
    low = max(MIN_DELTA_E, threshold / 2)
    candidate = filters.apply_hysteresis_threshold(np.where(field_mask, difference, 0), low, threshold)
    candidate = ndimage.binary_opening(candidate, structure=_disk(2))
    candidate = _fill_holes(ndimage.binary_closing(candidate, structure=_disk(4)) & field_mask)
    labels, count = ndimage.label(candidate, structure=np.ones((3, 3), dtype=bool))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    if count == 0 or areas.max() < MIN_LESION_PIXELS:
        largest_area = int(areas.max()) if count else 0
        raise PhotoProblem(
            f"no lesion found: the largest region that differs from the skin covers {largest_area} pixels at "
            f"the working size, below the {MIN_LESION_PIXELS} this analysis needs; photograph the lesion "
            "closer or at a higher resolution."
        )
    field_area = int(field_mask.sum())
    largest = int(np.argmax(areas))
    if areas[largest] > WHOLE_PHOTO_FRACTION * field_area:
        raise PhotoProblem(
            f"the region that differs from the skin covers {areas[largest] / field_area:.0%} of the photo: "
            "the lesion must be framed with skin all round it."
        )
    # Opening and closing treat the world beyond the photo as background, so they pull a lesion up to 4 px
    # back from the edge: "touching" is coming within 6 px of it (or of the dermatoscope's rim).
    touching = np.zeros(count + 1, dtype=bool)
    touching[_edge_labels(labels, width=6)] = True
    if outside.any():
        touching[labels[ndimage.binary_dilation(outside, iterations=6)]] = True
    touching[0] = False
    interior = np.flatnonzero((areas >= MIN_LESION_PIXELS) & ~touching)
    centre = labels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    largest_reaches_centre = bool((centre == largest).any())
    if touching[largest] and (
        len(interior) == 0 or (areas[largest] > areas[interior].max() and largest_reaches_centre)
    ):
        where = "of the dermatoscope's field" if outside.any() else "of the photo"
        raise PhotoProblem(
            f"the lesion touches the edge {where}: the whole lesion must be in the picture with a margin "
            "of skin around it."
        )
    chosen = int(interior[np.argmax(areas[interior])])
    mask = labels == chosen
    return Segmentation(
        mask=mask,
        lab=lab,
        skin_lab=(float(skin[0]), float(skin[1]), float(skin[2])),
        threshold=threshold,
        contrast=float(np.median(difference[mask])),
        field_fraction=field_area / (h * w),
    )


# --- features ----------------------------------------------------------------------------------------------
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
            colour_difference = float(np.linalg.norm(mean_side - mean_other))
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

    core = ndimage.binary_erosion(mask, structure=_disk(2)) if mask.sum() > 2000 else mask
    pixels = lab[core]
    if len(pixels) > 100_000:  # a regular sample: shares to within a fraction of a percent
        pixels = pixels[:: len(pixels) // 100_000 + 1]
    references = _reference_lab()
    distance = np.linalg.norm(pixels[:, None, :] - references[None, :, :], axis=2)
    names = list(REFERENCE_COLOURS)
    white = names.index("white")
    distance[pixels[:, 0] <= skin_lightness, white] = np.inf  # white only where lighter than the skin (Stolz)
    nearest = np.argmin(distance, axis=1)
    shares = np.bincount(nearest, minlength=len(names)) / len(nearest)
    share_of = {name: round(float(shares[i]), 4) for i, name in enumerate(names)}
    present = sorted((n for n in names if share_of[n] >= COLOUR_SHARE), key=lambda n: -share_of[n])
    return Colours(present=present, shares=share_of)


# --- explanation image -------------------------------------------------------------------------------------
def overlay_png(base_rgb, geometry: Geometry, asymmetry: Asymmetry, *, label: str, max_side: int = 768) -> bytes:
    """The lesion contour (yellow), the symmetry axes (cyan) and the max Feret diameter (magenta), on a crop
    of the photo around the lesion."""
    import numpy as np
    from PIL import Image, ImageDraw

    from . import imaging

    image = Image.fromarray(base_rgb) if isinstance(base_rgb, np.ndarray) else base_rgb
    image = image.convert("RGB")
    height, width = image.height, image.width
    rows, cols = geometry.contour[:, 0], geometry.contour[:, 1]
    size = max(rows.max() - rows.min(), cols.max() - cols.min())
    pad = max(0.4 * size, 32)
    top, bottom = max(0, int(rows.min() - pad)), min(height, int(rows.max() + pad) + 1)
    left, right = max(0, int(cols.min() - pad)), min(width, int(cols.max() + pad) + 1)
    crop = image.crop((left, top, right, bottom))
    zoom = min(1.0, max_side / max(crop.size))
    if zoom < 1.0:
        crop = crop.resize((max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom))))
    draw = ImageDraw.Draw(crop)
    line = max(2, round(max(crop.size) / 300))

    def point(row: float, col: float) -> tuple[float, float]:
        return ((col - left) * zoom, (row - top) * zoom)

    step = max(1, len(geometry.contour) // 2000)
    draw.line(
        [point(r, c) for r, c in geometry.contour[::step]] + [point(*geometry.contour[0])],
        fill=(255, 221, 0),
        width=line,
    )
    cy, cx = geometry.centroid
    half = geometry.feret * 0.6
    for offset in (0.0, math.pi / 2):
        a = asymmetry.angle + offset
        ends = [(cy - half * math.sin(a), cx - half * math.cos(a)), (cy + half * math.sin(a), cx + half * math.cos(a))]
        draw.line([point(*ends[0]), point(*ends[1])], fill=(0, 220, 255), width=max(1, line - 1))
    (ra, ca), (rb, cb) = geometry.feret_ends
    draw.line([point(ra, ca), point(rb, cb)], fill=(255, 0, 200), width=line)
    for r, c in geometry.feret_ends:
        x, y = point(r, c)
        draw.ellipse([x - 2 * line, y - 2 * line, x + 2 * line, y + 2 * line], outline=(255, 0, 200), width=line)
    draw.rectangle([0, 0, crop.width, 14], fill=(0, 0, 0))
    draw.text((4, 2), label, fill=(255, 255, 255))
    return imaging.encode_png(np.asarray(crop))


# --- the model, when one is active ------------------------------------------------------------------------
def _runtime():
    """The model runtime (modalities.runtime), or None where it is not installed in this build."""
    try:
        return importlib.import_module("modalities.runtime")
    except ModuleNotFoundError as error:
        if error.name == "modalities.runtime":
            return None
        raise


# --- inputs ------------------------------------------------------------------------------------------------
class DermatologyInputForm(forms.Form):
    """The portal's form (presentation); ``DermatologyAnalyzer.validate_inputs`` does the validation."""

    image_type = forms.ChoiceField(
        label="Image type",
        choices=[("clinical", "Clinical photo"), ("dermoscopy", "Dermoscopy image")],
        initial="clinical",
    )
    pixels_per_mm = forms.FloatField(
        label="Scale (pixels per mm)",
        required=False,
        help_text="From a ruler in the photo: how many pixels of the uploaded photo make 1 mm. "
        "Without it, the diameter is in pixels and flagged 'no scale'.",
    )
    dermoscopic_structures = forms.IntegerField(
        label="Dermoscopic structures (1-5)",
        required=False,
        help_text="Dermoscopy only, counted by you: network, structureless areas, dots, globules, branched "
        "streaks. Needed for the Stolz total dermoscopy score.",
    )
    lesion_id = forms.CharField(
        label="Lesion identifier",
        required=False,
        max_length=100,
        help_text="e.g. 'left shoulder 1'. A later photo with the same identifier is compared with this one.",
    )


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, name: str, errors: dict) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors[name] = "Enter a number."
        return None
    try:
        number = float(value)
    except ValueError:
        errors[name] = "Enter a number."
        return None
    if not math.isfinite(number):
        errors[name] = "Enter a finite number."
        return None
    return number


def _whole(value, name: str, errors: dict) -> int | None:
    number = _number(value, name, errors)
    if number is None:
        return None
    if not float(number).is_integer():
        errors[name] = "Enter a whole number."
        return None
    return int(number)


def _validate_previous(value, errors: dict) -> dict | None:
    if not isinstance(value, dict):
        errors["previous"] = "Earlier measurements must be an object."
        return None
    unknown = sorted(set(value) - PREVIOUS_KEYS)
    if unknown:
        errors["previous"] = f"Unknown keys: {', '.join(unknown)}."
        return None
    clean: dict[str, Any] = {key: None for key in PREVIOUS_KEYS}
    sub: dict[str, str] = {}
    try:
        when = _parse_when(value.get("measured_at"))
    except ValueError:
        when = None
        sub["measured_at"] = "not a date"
    if when is None and "measured_at" not in sub:
        sub["measured_at"] = "required"
    elif when is not None and when > datetime.now(UTC):
        sub["measured_at"] = "in the future"
    else:
        clean["measured_at"] = when.isoformat() if when else None
    for key in ("diameter_mm", "area_mm2", "diameter_px", "area_px"):
        if value.get(key) is not None:
            number = _number(value[key], key, sub)
            if number is not None and number <= 0:
                sub[key] = "must be positive"
            elif number is not None:
                clean[key] = number
    for key, low, high in (("colour_count", 1, 6), ("asymmetry", 0, 2)):
        if value.get(key) is not None:
            number = _whole(value[key], key, sub)
            if number is not None and not low <= number <= high:
                sub[key] = f"must be {low}-{high}"
            elif number is not None:
                clean[key] = number
    if value.get("assessment_id") is not None:
        clean["assessment_id"] = str(value["assessment_id"])[:64]
    if sub:
        errors["previous"] = "; ".join(f"{k}: {v}" for k, v in sorted(sub.items()))
        return None
    return clean


def _demo_photo(*, seed: int, shape: str, colours, size=(1024, 768), dermoscopy: bool = False, fmt: str = "JPEG"):
    """A generated lesion photo for the demo: skin with texture and uneven light, a lesion drawn on it."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.06 * ((xx / width - 0.4) ** 2 + (yy / height - 0.5) ** 2)
    skin = np.array([224, 182, 160], dtype=np.float32) * light[..., None]
    skin += rng.normal(0, 3, (height, width, 3)).astype(np.float32)
    canvas = Image.fromarray(np.clip(skin, 0, 255).astype(np.uint8))
    cx, cy = width / 2, height / 2
    if shape == "round":
        outline = [(cx + 55 * math.cos(t), cy + 50 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 180)]
    else:
        radii = 150 + np.convolve(rng.normal(0, 30, 40), np.ones(3) / 3, mode="same")
        outline = [
            (cx + r * math.cos(t), cy + 0.8 * r * math.sin(t))
            for r, t in zip(radii, np.linspace(0, 2 * math.pi, 40, endpoint=False), strict=True)
        ]
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    paint = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(paint)
    for i, colour in enumerate(colours[1:], start=1):  # further colours as wedges from the centre
        start = i * 360 / len(colours)
        draw.pieslice([cx - 400, cy - 400, cx + 400, cy + 400], start, start + 360 / len(colours), fill=colour)
    canvas.paste(paint, (0, 0), mask.filter(ImageFilter.GaussianBlur(1.5)))
    if dermoscopy:
        rim = Image.new("L", size, 255)
        ImageDraw.Draw(rim).ellipse([-60, -140, width + 60, height + 140], fill=0)
        canvas.paste((0, 0, 0), (0, 0), rim.filter(ImageFilter.GaussianBlur(4)))
    buffer = io.BytesIO()
    canvas.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@register
class DermatologyAnalyzer(Analyzer):
    name = "dermatology"
    no_confidence_reason = "Not applicable: the ABCD checklist and the Stolz score are rules, not probabilities"
    label = "Dermatology (skin lesion)"
    description = (
        "One photo of one skin lesion: segmentation and the ABCD(E) features; the Stolz total dermoscopy "
        "score for dermoscopy images with the clinician's structure count; a registered model when active."
    )
    # The inference queue: an organization may activate a torch model for this modality at any time, and
    # which assessment will run one is known only inside the analysis; torch belongs on the inference
    # workers (threads set, one task at a time) so that a slow model never starves the light queue.
    # Without a model the analysis takes well under a second, so sharing that queue costs little.
    queue = "inference"
    accepted_types = {"image/jpeg": "jpg", "image/png": "png"}
    requires_files = True
    max_pixels = 50_000_000  # a 48-megapixel phone photo; decoded at a reduced scale for the analysis
    deadline_seconds = 120
    stages = (
        StageSpec("decode", "Read the photo"),
        StageSpec("segment", "Find the lesion"),
        StageSpec("features", "ABCD(E) features"),
        StageSpec("model", "Model inference (when a model is active)"),
        StageSpec("explain", "Score and explanation"),
    )
    catalogue = CATALOGUE
    form_class = DermatologyInputForm

    def initial_inputs(self, patient) -> dict[str, Any]:
        return {"image_type": "clinical"}

    # --- submission ---------------------------------------------------------------------------------
    def validate_inputs(self, *, inputs: dict[str, Any], patient) -> dict[str, Any]:
        if not isinstance(inputs, dict):
            raise InputError({"inputs": "Inputs must be a JSON object."})
        allowed = {"image_type", "pixels_per_mm", "dermoscopic_structures", "lesion_id", "previous"}
        unknown = sorted(set(inputs) - allowed)
        if unknown:
            raise InputError({name: "Unknown input for dermatology." for name in unknown})
        errors: dict[str, str] = {}

        image_type = inputs.get("image_type")
        image_type = "clinical" if _blank(image_type) else image_type
        if image_type not in IMAGE_TYPES:
            errors["image_type"] = "Choose clinical or dermoscopy."

        pixels_per_mm = None
        if not _blank(inputs.get("pixels_per_mm")):
            pixels_per_mm = _number(inputs["pixels_per_mm"], "pixels_per_mm", errors)
            if pixels_per_mm is not None and not 0 < pixels_per_mm <= MAX_PIXELS_PER_MM:
                errors["pixels_per_mm"] = (
                    f"{pixels_per_mm:g} is not a usable scale: give the pixels of the uploaded photo per "
                    f"millimetre, a positive number up to {MAX_PIXELS_PER_MM:g}."
                )
                pixels_per_mm = None

        structures = None
        if not _blank(inputs.get("dermoscopic_structures")):
            structures = _whole(inputs["dermoscopic_structures"], "dermoscopic_structures", errors)
            if structures is not None and not 1 <= structures <= 5:
                errors["dermoscopic_structures"] = (
                    f"{structures} is not a count of dermoscopic structures: Stolz's D is 1-5 (network, "
                    "structureless areas, dots, globules, branched streaks; a lesion with none of the others "
                    "is structureless, which counts as 1)."
                )
                structures = None
            elif structures is not None and image_type == "clinical":
                errors["dermoscopic_structures"] = (
                    "Dermoscopic structures are counted on a dermoscopy image; this one is a clinical photo. "
                    "Set image_type to dermoscopy, or leave the count out."
                )

        lesion_id = inputs.get("lesion_id")
        if _blank(lesion_id):
            lesion_id = None
        elif not isinstance(lesion_id, str):
            errors["lesion_id"] = "Enter text."
        elif len(lesion_id.strip()) > 100 or not lesion_id.strip().isprintable():
            errors["lesion_id"] = "Use up to 100 printable characters."
        else:
            lesion_id = lesion_id.strip()

        previous = None
        if inputs.get("previous") is not None:
            previous = _validate_previous(inputs["previous"], errors)
            if previous is not None and lesion_id is None:
                errors["previous"] = "Earlier measurements belong to a lesion: give its lesion_id as well."

        if errors:
            raise InputError(errors)
        resolved: dict[str, Any] = {
            "image_type": image_type,
            "pixels_per_mm": pixels_per_mm,
            "dermoscopic_structures": structures,
            "lesion_id": lesion_id,
        }
        if previous is not None:
            resolved["previous"] = previous
        return resolved

    def with_history(self, resolved: dict[str, Any], history) -> dict[str, Any]:
        """E: the latest completed assessment of the same lesion (same ``lesion_id``) of this patient becomes
        ``previous``, unless the caller gave earlier measurements explicitly. No lesion_id, no history."""
        lesion_id = resolved.get("lesion_id")
        if lesion_id is None or resolved.get("previous") is not None:
            return resolved
        for prior in history():  # newest first
            if prior.inputs.get("lesion_id") == lesion_id:
                previous = previous_measurements(
                    biomarkers=prior.biomarkers, measured_at=prior.completed_at, assessment_id=prior.assessment_id
                )
                return {**resolved, "previous": previous}
        return resolved

    def prepare_files(self, files: list) -> list:
        """One photo of one lesion; one that is black, blank, blown out, greyscale or tiny is refused here."""
        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one photo of one lesion (got {len(files)} files)."})
        upload = files[0]
        upload.content.seek(0)
        try:
            decode_photo(upload.content, long_side=256)
        except PhotoProblem as problem:
            raise InputError({"files": f"{upload.original_filename}: {problem}"}) from None
        finally:
            upload.content.seek(0)
        return files

    def demo_cases(self) -> list[DemoCase]:
        light_brown, dark_brown, black, blue_grey = (178, 122, 84), (98, 58, 36), (35, 28, 28), (104, 118, 140)
        return [
            DemoCase(
                inputs={"image_type": "clinical", "pixels_per_mm": 20, "lesion_id": "back 1"},
                files=[("back-mole.jpg", _demo_photo(seed=1, shape="round", colours=[light_brown]))],
            ),
            DemoCase(
                inputs={"image_type": "clinical"},
                files=[
                    ("shoulder.jpg", _demo_photo(seed=2, shape="irregular", colours=[dark_brown, black, light_brown]))
                ],
            ),
            DemoCase(
                inputs={"image_type": "dermoscopy", "pixels_per_mm": 40, "dermoscopic_structures": 3},
                files=[
                    (
                        "dermoscopy.png",
                        _demo_photo(
                            seed=3,
                            shape="irregular",
                            colours=[dark_brown, blue_grey, light_brown],
                            dermoscopy=True,
                            fmt="PNG",
                        ),
                    )
                ],
            ),
        ]

    # --- analysis -----------------------------------------------------------------------------------
    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        import numpy as np

        inputs = context.inputs
        notes: list[str] = []
        with context.stage("decode"):
            if len(context.files) != 1:
                raise AnalysisError(f"Dermatology needs exactly one photo; this assessment has {len(context.files)}.")
            with context.files[0].open() as stream:
                data = stream.read()
            try:
                photo = decode_photo(io.BytesIO(data))
            except PhotoProblem as problem:
                raise AnalysisError(f"The photo cannot be analysed: {problem}") from None
            pixels_per_mm = inputs.get("pixels_per_mm")
            working_per_mm = pixels_per_mm * photo.scale if pixels_per_mm else None

        with context.stage("segment"):
            try:
                segmentation = segment_lesion(photo.rgb)
            except PhotoProblem as problem:
                raise AnalysisError(f"The lesion could not be measured: {problem}") from None

        with context.stage("features"):
            mask = segmentation.mask
            geometry = measure_geometry(mask)
            asymmetry = measure_asymmetry(mask, segmentation.lab, geometry.principal_angle)
            abruptness = measure_border_abruptness(mask, photo.rgb, segmentation.skin_lab, geometry, asymmetry.angle)
            colours = measure_colours(mask, segmentation.lab, segmentation.skin_lab[0])
            feret_original_px = geometry.feret / photo.scale
            diameter_mm = geometry.feret / working_per_mm if working_per_mm else None
            area_mm2 = geometry.area / working_per_mm**2 if working_per_mm else None
            if diameter_mm is not None and diameter_mm > 100:
                notes.append(
                    f"The diameter comes out at {diameter_mm:.0f} mm: check the scale (pixels per mm) entered."
                )
            current = {
                "measured_at": datetime.now(UTC).isoformat(),
                "diameter_mm": diameter_mm,
                "area_mm2": area_mm2,
                "diameter_px": feret_original_px,
                "area_px": geometry.area / photo.scale**2,
                "colour_count": colours.count,
                "asymmetry": asymmetry.score,
            }
            previous = inputs.get("previous")
            evolved = evolution(previous, current) if previous else None

        with context.stage("model"):
            model_result, model_version_id, base_image = self._run_model(context, photo.rgb)

        with context.stage("explain"):
            biomarkers: dict[str, float] = {
                "lesion_asymmetry_score": float(asymmetry.score),
                "lesion_asymmetry_index": round(asymmetry.index, 4),
                "border_irregularity_index": round(geometry.irregularity, 4),
                "border_compactness_index": round(geometry.compactness, 4),
                "border_abrupt_segments": float(abruptness.abrupt_segments),
                "colour_count": float(colours.count),
                "lesion_diameter_pixels": round(feret_original_px, 1),
            }
            if diameter_mm is not None:
                biomarkers["lesion_diameter"] = round(diameter_mm, 2)
                biomarkers["lesion_area"] = round(area_mm2, 2)
            if evolved and evolved["diameter_change_mm"] is not None:
                biomarkers["lesion_diameter_change"] = evolved["diameter_change_mm"]
            if evolved and evolved["area_change_percent"] is not None:
                biomarkers["lesion_area_change"] = evolved["area_change_percent"]

            checklist = abcd_checklist(
                asymmetry_score=asymmetry.score,
                irregularity=geometry.irregularity,
                colour_count=colours.count,
                diameter_mm=diameter_mm,
                evolving=evolved["evolving"] if evolved else None,
            )
            tds, tds_info = self._tds(inputs, asymmetry, abruptness, colours)
            if tds is not None:
                biomarkers["total_dermoscopy_score"] = tds
                risk_score, risk_level = tds_risk(tds)
                basis = "total_dermoscopy_score"
                contributions = self._tds_contributions(tds_info, risk_score)
            else:
                risk_score, risk_level = checklist["risk_score"], checklist["risk_level"]
                basis = "abcd_checklist"
                contributions = self._checklist_contributions(checklist)
            if evolved and evolved["evolving"] and risk_level == "low":
                risk_level = "intermediate"
                notes.append("The lesion is evolving: the level is raised to intermediate whatever the score.")

            scale_info = {
                "pixels_per_mm": pixels_per_mm,
                "status": "given" if pixels_per_mm else "no scale",
            }
            if not pixels_per_mm:
                notes.append(
                    "No scale was given: the diameter is in pixels of the photo (flagged 'no scale') and D of "
                    "the clinical checklist is not evaluated."
                )
            summary = self._summary(
                diameter_mm=diameter_mm,
                feret_px=feret_original_px,
                asymmetry=asymmetry,
                geometry=geometry,
                abruptness=abruptness,
                colours=colours,
                tds=tds,
                tds_info=tds_info,
                checklist=checklist,
                evolved=evolved,
                model=model_result,
            )
            diameter_text = f"{diameter_mm:.1f} mm" if diameter_mm is not None else f"{feret_original_px:.0f} px"
            image_label = (
                f"contour (yellow), symmetry axes (cyan), max Feret diameter {diameter_text} (magenta)"
                if pixels_per_mm
                else f"contour (yellow), symmetry axes (cyan), max Feret diameter {diameter_text}, no scale (magenta)"
            )
            if base_image is None:
                base_image = (np.clip(photo.rgb, 0, 1) * 255).astype(np.uint8)
            image_png = overlay_png(base_image, geometry, asymmetry, label=image_label)
            results = {
                "image_type": inputs.get("image_type", "clinical"),
                "lesion_id": inputs.get("lesion_id"),
                "original_size": list(photo.original_size),
                "working_size": list(photo.working_size),
                "scale": scale_info,
                "segmentation": {
                    "method": "hysteresis on CIELAB Delta E from the skin (photo border): Otsu's threshold and "
                    "half of it; largest component clear of the edge",
                    "threshold_delta_e": round(segmentation.threshold, 2),
                    "lesion_contrast_delta_e": round(segmentation.contrast, 2),
                    "skin_lab": [round(v, 2) for v in segmentation.skin_lab],
                    "lesion_fraction_of_photo": round(geometry.pixel_area / mask.size, 4),
                    "field_of_view_fraction": round(segmentation.field_fraction, 4),
                },
                "asymmetry": {
                    "score": asymmetry.score,
                    "index": asymmetry.index,
                    "axes": asymmetry.axes,
                    "principal_axis_degrees": round(math.degrees(geometry.principal_angle) % 180, 1),
                    "thresholds": {
                        "shape_index": SHAPE_ASYMMETRY_THRESHOLD,
                        "colour_delta_e": COLOUR_ASYMMETRY_THRESHOLD,
                    },
                },
                "border": {
                    "irregularity_index": round(geometry.irregularity, 4),
                    "compactness_index": round(geometry.compactness, 4),
                    "abrupt_segments": abruptness.abrupt_segments,
                    "abrupt_width_limit_px": abruptness.width_limit,
                    "segments": abruptness.segments,
                },
                "colours": {
                    "count": colours.count,
                    "present": [COLOUR_LABELS[n] for n in colours.present],
                    "shares": colours.shares,
                    "reference_srgb": {n: list(v) for n, v in REFERENCE_COLOURS.items()},
                    "minimum_share": COLOUR_SHARE,
                },
                "diameter": {
                    "max_feret_px": round(feret_original_px, 1),
                    "max_feret_mm": None if diameter_mm is None else round(diameter_mm, 2),
                    "flag": None if diameter_mm is not None else "no scale",
                },
                "area": {
                    "px": round(geometry.area / photo.scale**2, 1),
                    "mm2": None if area_mm2 is None else round(area_mm2, 2),
                },
                "evolution": evolved
                or {
                    "status": "not assessed",
                    "reason": "no earlier assessment of this lesion"
                    + ("" if inputs.get("lesion_id") else " (give a lesion_id to follow it over time)"),
                },
                "tds": tds_info,
                "abcd_checklist": checklist,
                "risk_basis": basis,
                "risk_rule": (
                    "TDS rescaled: (TDS - 1.0) / 7.9 x 100; low < 4.75 <= intermediate <= 5.45 < high"
                    if basis == "total_dermoscopy_score"
                    else "100 x positive / evaluable ABCD(E) criteria; low 0, intermediate 1-2, high 3+"
                )
                + "; an evolving lesion is at least intermediate. Not a diagnosis.",
                "model": model_result,
                "notes": notes,
            }
        return AnalysisResult(
            method_version=METHOD_VERSION,
            risk_score=risk_score,
            risk_level=risk_level,
            confidence=None,
            recommendations=self._recommendations(risk_level, basis, tds_info, evolved, pixels_per_mm),
            results=results,
            biomarkers=biomarkers,
            explanation_summary=summary,
            contributions=contributions,
            explanation_image_png=image_png,
            model_version_id=model_version_id,
        )

    # --- pieces -------------------------------------------------------------------------------------
    def _run_model(self, context: AnalysisContext, rgb):
        runtime = _runtime()
        version = runtime.active_model(self.name, context.organization_id) if runtime is not None else None
        if version is None:
            return (
                {
                    "status": "no model",
                    "note": "No model is active for dermatology here: the result rests on the measured features only.",
                },
                None,
                None,
            )
        loaded = runtime.load(version)
        probabilities = {str(k): round(float(v), 4) for k, v in loaded.predict(rgb).items()}
        top = max(probabilities, key=probabilities.get)
        heat = loaded.saliency(rgb, top)
        from PIL import Image

        base = Image.open(io.BytesIO(runtime.heatmap_overlay_png(rgb, heat))).convert("RGB")
        if base.size != (rgb.shape[1], rgb.shape[0]):
            base = base.resize((rgb.shape[1], rgb.shape[0]))
        is_reference = bool(getattr(version, "is_reference", False))
        return (
            {
                "status": "ran",
                "model_version_id": version.pk,
                "model": str(getattr(version, "label", version)),
                "name": getattr(version, "name", ""),
                "version": getattr(version, "version", ""),
                "is_reference": is_reference,
                "intended_use": getattr(version, "intended_use", ""),
                "limitations": getattr(version, "limitations", ""),
                "probabilities": probabilities,
                "top_label": top,
                "saliency_for": top,
                "note": "Reported beside the measurements; it does not change the risk score."
                + (" A reference model for validating the pipeline, not for clinical use." if is_reference else ""),
            },
            version.pk,
            base,
        )

    @staticmethod
    def _tds(inputs, asymmetry: Asymmetry, abruptness: BorderAbruptness, colours: Colours):
        if inputs.get("image_type") != "dermoscopy":
            return None, {"status": "not computed", "reason": "the Stolz TDS applies to dermoscopy images only"}
        structures = inputs.get("dermoscopic_structures")
        if structures is None:
            return None, {
                "status": "not computed",
                "reason": "the Stolz TDS needs the clinician's count of dermoscopic structures (D); none was entered",
            }
        tds = total_dermoscopy_score(
            asymmetry=asymmetry.score,
            border=abruptness.abrupt_segments,
            colours=max(1, colours.count),
            structures=int(structures),
        )
        return tds, {
            "status": "computed",
            "value": tds,
            "category": tds_category(tds),
            "A": asymmetry.score,
            "B": abruptness.abrupt_segments,
            "C": max(1, colours.count),
            "D": int(structures),
            "D_source": "entered by the clinician",
            "thresholds": {"benign_below": TDS_BENIGN_BELOW, "suspicious_up_to": TDS_SUSPICIOUS_UP_TO},
        }

    @staticmethod
    def _tds_contributions(info: dict, risk_score: float) -> list[dict]:
        """Each TDS term: the score with that term at its minimum, the others unchanged."""
        rows = []
        for factor, key, weight, minimum in (
            ("lesion_asymmetry_score", "A", 1.3, 0),
            ("border_abrupt_segments", "B", 0.1, 0),
            ("colour_count", "C", 0.5, 1),
            ("dermoscopic_structures", "D", 0.5, 1),
        ):
            tds_without = info["value"] - weight * (info[key] - minimum)
            score_without = tds_risk(round(tds_without, 2))[0]
            rows.append(
                {
                    "factor": factor,
                    "current_value": info[key],
                    "optimal_value": minimum,
                    "risk_with_optimal": score_without,
                    "contribution_points": round(risk_score - score_without, 1),
                    "tds_points": round(weight * info[key], 2),
                }
            )
        return rows

    @staticmethod
    def _checklist_contributions(checklist: dict) -> list[dict]:
        share = 100 / checklist["evaluable"]
        rows = []
        for criterion in checklist["criteria"]:
            if criterion["positive"] is None:
                continue
            rows.append(
                {
                    "factor": criterion["factor"],
                    "criterion": criterion["criterion"],
                    "rule": criterion["rule"],
                    "current_value": criterion["value"],
                    "contribution_points": round(share, 1) if criterion["positive"] else 0.0,
                    "risk_with_optimal": round(checklist["risk_score"] - share, 1)
                    if criterion["positive"]
                    else checklist["risk_score"],
                }
            )
        return rows

    @staticmethod
    def _summary(
        *, diameter_mm, feret_px, asymmetry, geometry, abruptness, colours, tds, tds_info, checklist, evolved, model
    ) -> str:
        size = f"{diameter_mm:.1f} mm" if diameter_mm is not None else f"{feret_px:.0f} pixels (no scale given)"
        axes = {0: "symmetric about both axes", 1: "asymmetric about one axis", 2: "asymmetric about both axes"}
        colour_names = ", ".join(COLOUR_LABELS[n] for n in colours.present)
        parts = [
            f"Lesion {size} across (max Feret diameter), {axes[asymmetry.score]} (A {asymmetry.score}), "
            f"border irregularity index {geometry.irregularity:.2f} with {abruptness.abrupt_segments} of 8 "
            f"segments cut off abruptly, {colours.count} colour{'s' if colours.count != 1 else ''} ({colour_names})."
        ]
        if tds is not None:
            parts.append(
                f"Stolz TDS {tds:.1f} ({tds_info['category']}; < 4.75 benign, > 5.45 highly suspicious), with "
                f"{tds_info['D']} dermoscopic structure{'s' if tds_info['D'] != 1 else ''} entered by the clinician."
            )
        else:
            parts.append(
                f"ABCD(E) checklist: {checklist['positive']} of {checklist['evaluable']} evaluable criteria present."
            )
        if evolved:
            parts.append(
                "Evolving: " + "; ".join(evolved["changes"]) + "."
                if evolved["evolving"]
                else "No change found since the earlier photo of this lesion."
            )
        if model.get("status") == "ran":
            parts.append(
                f"Model {model['model']}: most likely '{model['top_label']}' "
                f"({model['probabilities'][model['top_label']]:.0%}); it does not change the score."
            )
        parts.append("Automated measurements from a photo, not a diagnosis.")
        return " ".join(parts)

    @staticmethod
    def _recommendations(level, basis, tds_info, evolved, pixels_per_mm) -> list[dict]:
        out = []
        if basis == "total_dermoscopy_score":
            category = tds_info["category"]
            text = {
                "benign": "TDS in the benign range (< 4.75): routine care; a clinician interprets it with the "
                "history and the whole skin examination.",
                "suspicious": "TDS in the suspicious range (4.75-5.45): close follow-up or excision, as the "
                "dermatologist judges.",
                "highly suspicious": "TDS above 5.45 is highly suspicious of melanoma: refer to a dermatologist "
                "promptly; excision is to be considered.",
            }[category]
            out.append({"text": text, "source": STOLZ})
        elif level != "low":
            out.append(
                {
                    "text": "ABCD(E) features are present: have the lesion examined by a dermatologist, with "
                    "dermoscopy.",
                    "source": f"{FRIEDMAN}; {ABBASI}",
                }
            )
        else:
            out.append(
                {
                    "text": "No ABCD(E) feature measured: routine care; any change the patient notices is a "
                    "reason to look again.",
                    "source": ABBASI,
                }
            )
        if evolved and evolved["evolving"]:
            out.append(
                {
                    "text": "The lesion has changed since its earlier photo; change is the most important warning "
                    "sign: refer to a dermatologist.",
                    "source": ABBASI,
                }
            )
        if not pixels_per_mm:
            out.append(
                {
                    "text": "Photograph the lesion beside a ruler and enter pixels per mm, so that the diameter is "
                    "measured in millimetres and its growth can be followed.",
                    "source": FRIEDMAN,
                }
            )
        return out
