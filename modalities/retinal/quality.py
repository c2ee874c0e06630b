"""Stage "quality" of the retinal analysis: is the photo sharp and well exposed enough to be scored?

In the analysis region: contrast = standard deviation of the green channel; a field with less than
``FEATURELESS_CONTRAST`` grey levels of it shows nothing and fails. Focus = variance of the Laplacian of the
green channel (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a comparative study",
ICPR 2000, vol. 3, pp. 314-317). Illumination = the fraction of under-exposed (luminance < ``DARK_LEVEL``)
and over-exposed (luminance >= ``BRIGHT_LEVEL``) pixels. A photo below ``FOCUS_MIN``, above
``DARK_MAX_FRACTION`` or ``BRIGHT_MAX_FRACTION``, or whose green channel outshines its red one (not a colour
fundus photograph; not checked on a greyscale, red-free photo, whose channels are equal) is graded **poor**:
it is measured but not scored. These quality thresholds are MediLens's own (engineering values, stated with
how they were set), not published cut-offs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import AnalysisError
from .field import Working, luminance

# --- quality (engineering thresholds, set on the CC0 sample fundus photo of scikit-image and on blurred
# copies of it: sharp = 14, Gaussian blur 1 px = 6, 2 px = 2 at the working size) --------------------------
FEATURELESS_CONTRAST = 2.0  # grey levels of green std in the field: less and nothing is visible
FOCUS_MIN = 4.0  # variance of the Laplacian (green, 0-255) at the working size
DARK_LEVEL = 20  # luminance (0-255)
BRIGHT_LEVEL = 250
DARK_MAX_FRACTION = 0.25
BRIGHT_MAX_FRACTION = 0.10


@dataclass
class Quality:
    focus: float
    contrast: float
    brightness: float
    dark_fraction: float
    bright_fraction: float
    problems: list[str]

    @property
    def grade(self) -> str:
        return "poor" if self.problems else "adequate"


def assess_quality(work: Working) -> Quality:
    """Quality measures in the analysis region; raises AnalysisError for a featureless field."""
    import numpy as np
    from scipy import ndimage

    green = work.rgb[..., 1].astype(np.float32)
    region = work.region
    contrast = float(green[region].std())
    if contrast < FEATURELESS_CONTRAST:
        raise AnalysisError(
            f"The photo shows no detail inside the field of view (contrast {contrast:.1f} grey levels; at least "
            f"{FEATURELESS_CONTRAST:g} is needed): no vessels or optic disc can be seen. Retake the photograph."
        )
    focus = float(ndimage.laplace(green)[region].var())
    light = luminance(work.rgb)[region]
    brightness = float(light.mean())
    dark = float(np.mean(light < DARK_LEVEL))
    bright = float(np.mean(light >= BRIGHT_LEVEL))
    problems = []
    if focus < FOCUS_MIN:
        problems.append(
            f"the photo looks out of focus (variance of the Laplacian {focus:.1f}; a sharp photo has {FOCUS_MIN:g} "
            "or more at the working size)"
        )
    if dark > DARK_MAX_FRACTION:
        problems.append(f"{dark:.0%} of the field is under-exposed (more than {DARK_MAX_FRACTION:.0%})")
    if bright > BRIGHT_MAX_FRACTION:
        problems.append(f"{bright:.0%} of the field is over-exposed (more than {BRIGHT_MAX_FRACTION:.0%})")
    if not work.greyscale:
        red = float(work.rgb[..., 0][region].mean())
        if red < float(green[region].mean()):
            problems.append("the green channel is brighter than the red one: this is not a colour fundus photograph")
    return Quality(
        focus=focus,
        contrast=contrast,
        brightness=brightness,
        dark_fraction=dark,
        bright_fraction=bright,
        problems=problems,
    )
