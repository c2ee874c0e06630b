"""The raw record of one analysis (``AnalysisResult.details``): how the lesion was found and measured, every
criterion and the rule that was applied, for the API and for re-rendering; never rendered by key name and
free of identifiers."""

from __future__ import annotations

import math
from typing import Any

from .catalogue import COLOUR_ASYMMETRY_THRESHOLD, SHAPE_ASYMMETRY_THRESHOLD
from .measurement import COLOUR_LABELS, COLOUR_SHARE, REFERENCE_COLOURS, Features

RISK_RULES = {
    "total_dermoscopy_score": "Stolz TDS in points, 1.3A + 0.1B + 0.5C + 0.5D: low < 4.75 <= intermediate <= 5.45 "
    "< high",
    "abcd_checklist": "positive ABCD(E) criteria (MediLens thresholds), 1 point each: 0 low, 1-2 intermediate, 3+ high",
}


def details(
    *,
    inputs,
    photo,
    segmentation,
    features: Features,
    biomarkers,
    evolved,
    tds,
    tds_withheld,
    checklist,
    basis,
    model: dict,
) -> dict[str, Any]:
    pixels_per_mm = inputs.get("pixels_per_mm")
    geometry = features.geometry
    return {
        "image_type": inputs.get("image_type", "clinical"),
        "lesion_id": inputs.get("lesion_id"),
        "original_size": list(photo.original_size),
        "working_size": list(photo.working_size),
        "scale": {"pixels_per_mm": pixels_per_mm, "status": "given" if pixels_per_mm else "no scale"},
        "segmentation": {
            "method": "hysteresis on CIELAB Delta E from the skin (photo border): Otsu's threshold and "
            "half of it; largest component clear of the edge",
            "threshold_delta_e": round(segmentation.threshold, 2),
            "lesion_contrast_delta_e": round(segmentation.contrast, 2),
            "skin_lab": [round(v, 2) for v in segmentation.skin_lab],
            "lesion_fraction_of_photo": round(geometry.pixel_area / segmentation.mask.size, 4),
            "field_of_view_fraction": round(segmentation.field_fraction, 4),
        },
        "asymmetry": {
            "score": features.asymmetry.score,
            "index": features.asymmetry.index,
            "axes": features.asymmetry.axes,
            "principal_axis_degrees": round(math.degrees(geometry.principal_angle) % 180, 1),
            "thresholds": {"shape_index": SHAPE_ASYMMETRY_THRESHOLD, "colour_delta_e": COLOUR_ASYMMETRY_THRESHOLD},
        },
        "border": {
            "irregularity_index": round(geometry.irregularity, 4),
            "compactness_index": round(geometry.compactness, 4),
            "abrupt_segments": features.border.abrupt_segments,
            "abrupt_width_limit_px": features.border.width_limit,
            "segments": features.border.segments,
        },
        "colours": {
            "count": features.colours.count,
            "present": [COLOUR_LABELS[n] for n in features.colours.present],
            "shares": features.colours.shares,
            "reference_srgb": {n: list(v) for n, v in REFERENCE_COLOURS.items()},
            "minimum_share": COLOUR_SHARE,
        },
        "diameter": {
            "max_feret_px": biomarkers["lesion_diameter_pixels"],
            "max_feret_mm": biomarkers.get("lesion_diameter"),
            "flag": None if "lesion_diameter" in biomarkers else "no scale",
        },
        "area": {"px": round(features.area_px, 1), "mm2": biomarkers.get("lesion_area")},
        "evolution": evolved
        or {
            "status": "not assessed",
            "reason": "no earlier assessment of this lesion"
            + ("" if inputs.get("lesion_id") else " (give a lesion_id to follow it over time)"),
        },
        "tds": tds or {"status": "not computed", "reason": tds_withheld},
        "abcd_checklist": checklist,
        "risk_basis": basis,
        "risk_rule": RISK_RULES[basis] + "; an evolving lesion is at least intermediate. Not a diagnosis.",
        "model": model,
    }
