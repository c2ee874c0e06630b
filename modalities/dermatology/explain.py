"""What the clinician reads and sees: the summary, the recommendations, what could not be assessed and
why, the notes, and the overlay PNG (the lesion contour, the symmetry axes and the max Feret diameter)."""

from __future__ import annotations

import math

from ..results import Measurement, NotApplicable
from .catalogue import ABBASI, FRIEDMAN, STOLZ
from .evolution import not_compared
from .measurement import COLOUR_LABELS, Asymmetry, Features, Geometry

# A diameter above this is almost always a wrong scale rather than a lesion (a photo of a whole back is
# refused by segmentation long before): the clinician is asked to check the number entered.
IMPLAUSIBLE_DIAMETER_MM = 100


# --- text --------------------------------------------------------------------------------------------------
def summary(*, features: Features, biomarkers: dict[str, float], tds, checklist, evolved, model: dict) -> str:
    diameter_mm = biomarkers.get("lesion_diameter")
    size = (
        f"{diameter_mm:.1f} mm"
        if diameter_mm is not None
        else f"{biomarkers['lesion_diameter_pixels']:.0f} pixels (no scale given)"
    )
    asymmetry, colours = features.asymmetry, features.colours
    axes = {0: "symmetric about both axes", 1: "asymmetric about one axis", 2: "asymmetric about both axes"}
    colour_names = ", ".join(COLOUR_LABELS[n] for n in colours.present)
    abrupt = features.border.abrupt_segments
    parts = [
        f"Lesion {size} across (max Feret diameter), {axes[asymmetry.score]} (A {asymmetry.score}), "
        f"border irregularity index {biomarkers['border_irregularity_index']:.2f} with {abrupt} of 8 "
        f"segments cut off abruptly, {colours.count} colour{'s' if colours.count != 1 else ''} ({colour_names})."
    ]
    if tds is not None:
        parts.append(
            f"Stolz TDS {tds['value']:.1f} points ({tds['category']}; < 4.75 benign, > 5.45 highly suspicious), "
            f"with {tds['D']} dermoscopic structure{'s' if tds['D'] != 1 else ''} entered by the clinician."
        )
    else:
        parts.append(
            f"ABCD(E) checklist (MediLens thresholds): {checklist['positive']} of {checklist['evaluable']} "
            "evaluable criteria positive."
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


def recommendations(level: str, tds, evolved, pixels_per_mm) -> list[dict]:
    out = []
    if tds is not None:
        text = {
            "benign": "TDS in the benign range (< 4.75): routine care; a clinician interprets it with the "
            "history and the whole skin examination.",
            "suspicious": "TDS in the suspicious range (4.75-5.45): close follow-up or excision, as the "
            "dermatologist judges.",
            "highly suspicious": "TDS above 5.45 is highly suspicious of melanoma: refer to a dermatologist "
            "promptly; excision is to be considered.",
        }[tds["category"]]
        out.append({"text": text, "source": STOLZ})
    elif level != "low":
        out.append(
            {
                "text": "ABCD(E) features are present: have the lesion examined by a dermatologist, with dermoscopy.",
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


def not_applicable(*, tds_withheld: str | None, scaled: bool, evolved, lesion_id) -> list[NotApplicable]:
    items = []
    if tds_withheld:
        items.append(
            NotApplicable(
                "total_dermoscopy_score",
                "Stolz total dermoscopy score (TDS)",
                f"{tds_withheld[:1].upper()}{tds_withheld[1:]}; the ABCD(E) checklist is the headline instead.",
            )
        )
    if not scaled:
        items.append(
            NotApplicable(
                "lesion_diameter",
                "Diameter and area in mm (D)",
                "No scale (pixels per mm) was given: the diameter is reported in pixels of the photo, and D of "
                "the checklist (> 6 mm) is not evaluated.",
            )
        )
    return items + not_compared(evolved, lesion_id=lesion_id)


def notes(*, biomarkers: dict[str, float], verdict_notes: list[str], model: dict) -> list[str]:
    out = list(verdict_notes)
    diameter_mm = biomarkers.get("lesion_diameter")
    if diameter_mm is not None and diameter_mm > IMPLAUSIBLE_DIAMETER_MM:
        out.append(f"The diameter comes out at {diameter_mm:.0f} mm: check the scale (pixels per mm) entered.")
    if model.get("status") == "ran":
        out.append(f"Model {model['model']}: {model['note']}")
    return out


def measurements(*, checklist, tds, evolved) -> list[Measurement]:
    items = [Measurement("checklist_evaluable", "ABCD(E) criteria evaluable", checklist["evaluable"], "criteria", 0)]
    if tds is not None:
        items.append(
            Measurement(
                "checklist_positive",
                "ABCD(E) criteria positive (MediLens thresholds)",
                checklist["positive"],
                "criteria",
                0,
            )
        )
        items.append(
            Measurement(
                "dermoscopic_structures",
                "Dermoscopic structures (D, counted by the clinician)",
                tds["D"],
                "structures",
                0,
            )
        )
    if evolved and evolved["interval_days"] is not None:
        items.append(Measurement("interval_days", "Time since the earlier photo", evolved["interval_days"], "days", 0))
    return items


# --- the overlay -------------------------------------------------------------------------------------------
def overlay(base_rgb, features: Features, biomarkers: dict[str, float]) -> bytes:
    diameter_mm = biomarkers.get("lesion_diameter")
    if diameter_mm is not None:
        text = f"contour (yellow), symmetry axes (cyan), max Feret diameter {diameter_mm:.1f} mm (magenta)"
    else:
        text = (
            "contour (yellow), symmetry axes (cyan), max Feret diameter "
            f"{biomarkers['lesion_diameter_pixels']:.0f} px, no scale (magenta)"
        )
    return overlay_png(base_rgb, features.geometry, features.asymmetry, label=text)


def overlay_png(base_rgb, geometry: Geometry, asymmetry: Asymmetry, *, label: str, max_side: int = 768) -> bytes:
    """The lesion contour (yellow), the symmetry axes (cyan) and the max Feret diameter (magenta), on a crop
    of the photo around the lesion."""
    import numpy as np
    from PIL import Image, ImageDraw

    from .. import imaging

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
