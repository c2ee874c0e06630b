"""What the clinician reads with a retinal result: the overlay image, the summary, notes and recommendations.

Overlay: the vessel pixels drawn in cyan over the photo at the working size, the disc circled in yellow.
"""

from __future__ import annotations

from .. import imaging
from .catalogue import OWN_RULE
from .field import FIELD_MARGIN, WORKING_SIZE, Working
from .measure import Disc
from .quality import Quality
from .rule import DENSITY_STEPS, TORTUOSITY_STEPS

VESSEL_COLOUR = (0, 255, 255)
DISC_COLOUR = (255, 255, 0)

TORTUOSITY_SOURCE = (
    "Measure: distance metric (arc/chord), Hart et al., Int J Med Inform 1999;53:239-252. Threshold: MediLens's "
    "own. Blood pressure: with curvature-based tortuosity, Cheung et al., Ophthalmology 2011;118:812-818 found "
    "higher blood pressure with less tortuous arterioles and more tortuous venules"
)
DENSITY_SOURCE = (
    "Threshold: MediLens's own; manual vessel maps of the DRIVE database cover about 12 % of the field (Staal et "
    "al., IEEE Trans Med Imaging 2004;23:501-509)"
)


def overlay_png(work: Working, vessels, disc: Disc | None) -> bytes:
    image = imaging.overlay_mask(work.rgb, vessels, VESSEL_COLOUR, opacity=0.8)
    if disc is not None:
        image = imaging.draw_circle(image, (disc.x, disc.y), disc.radius, DISC_COLOUR, width=4)
    return imaging.encode_png(image, compress_level=1)


def notes(work: Working) -> list[str]:
    return [
        f"Measured at a working size of {work.rgb.shape[1]}x{work.rgb.shape[0]} px (the field of view resampled "
        f"to {WORKING_SIZE} px across), inside the field less a {FIELD_MARGIN} px margin.",
        "Optic disc position: fractions of the photo's width (x) and height (y) from its top-left corner.",
        "Image measurements for decision support, not a diagnosis: a clinician should grade the photograph.",
    ]


def recommendations(
    quality: Quality, *, density: float, tortuosity: float | None, points: dict[str, float]
) -> list[dict]:
    """``points``: what each measure added (empty when the photo was not scored)."""
    items = []
    if quality.problems:
        items.append(
            {
                "text": "Retake the photograph before relying on these measures: "
                + "; ".join(quality.problems)
                + ". Blur and poor exposure lower the measured vessel density by themselves.",
                "source": OWN_RULE,
            }
        )
    if points.get("vessel_tortuosity"):
        items.append(
            {
                "text": f"Vessel tortuosity (arc/chord {tortuosity:.2f}) is at or above MediLens's own screening "
                f"threshold of {TORTUOSITY_STEPS[-1][0]:.2f}. No published cut-off exists for this measure, and "
                "its link with blood pressure runs both ways (straighter arterioles but more tortuous venules "
                "with higher blood pressure in one large study); this method does not tell arterioles from "
                "venules. Review the photograph.",
                "source": TORTUOSITY_SOURCE,
            }
        )
    if points.get("vessel_density"):
        items.append(
            {
                "text": f"Vessel density is low ({density:.1f}% of the field, under MediLens's own screening "
                f"threshold of {DENSITY_STEPS[-1][0]:g}%). Check the photograph's focus and exposure first; if they "
                "are good, review the photograph for vessel narrowing or loss.",
                "source": DENSITY_SOURCE,
            }
        )
    items.append(
        {
            "text": "These are automated image measurements, not a diagnosis; have the photograph graded by a "
            "clinician trained in fundus photography.",
            "source": OWN_RULE,
        }
    )
    return items


def summary(*, density: float, tortuosity: float | None, segments: int, disc_position, quality: Quality) -> str:
    disc_text = (
        f"the optic disc is at x {disc_position[0]:.2f}, y {disc_position[1]:.2f} of the photo"
        if disc_position is not None
        else "the optic disc was not located"
    )
    tortuosity_text = (
        f"mean tortuosity (arc/chord) {tortuosity:.3f} over {segments} segments"
        if tortuosity is not None
        else "tortuosity not measurable"
    )
    return (
        f"Vessels (cyan) cover {density:.1f}% of the field; {tortuosity_text}; {disc_text} (yellow circle). "
        f"Image quality {quality.grade}" + (f" ({'; '.join(quality.problems)})" if quality.problems else "") + "."
    )
