"""Is a PNG or JPEG plausibly a chest radiograph? A check run at upload (a 400) and again before analysis.

A DICOM file says what it is (Modality, BodyPartExamined, ViewPosition: ``dicom.check``); a PNG or JPEG says
nothing, and before this check any picture (noise, a photograph, a scanned letter, a fundus photo) was given
to the model and scored, usually "high". The check is a small rule-based classifier on four image
statistics, each a property no chest radiograph has, each with a reason a clinician can read:

1. **Colour.** Colourfulness M of Hasler & Süsstrunk ("Measuring colourfulness in natural images", Proc SPIE
   2003;5007:87-95): M = sqrt(sd(rg)^2 + sd(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2) with rg = R - G and
   yb = (R + G) / 2 - B on 0-255 values. A greyscale image has M = 0; the paper's scale puts "slightly
   colourful" at 15, and an image at or above it is refused (a radiograph exported in colour carries the same
   grey in every channel; a small coloured marker or ruler keeps M far below 15).
2. **Spatial structure.** The correlation of neighbouring pixels (lag 1, across and down, averaged) of the
   image reduced to at most ``THUMBNAIL_SIDE`` px by area averaging. Natural images, radiographs included,
   are dominated by smooth structure, so neighbouring pixels are strongly correlated (Simoncelli &
   Olshausen, "Natural image statistics and neural representation", Annu Rev Neurosci 2001;24:1193-1216);
   white noise gives about 0, text and fine texture well under 0.85. Below ``MIN_NEIGHBOUR_CORRELATION`` the
   image is refused.
3. **A white page.** The share of pixels within the top tenth of the image's own range (1st to 99th
   percentile). On a radiograph white is dense tissue (bone, the mediastinum) and the lungs and the air
   around the body are dark; a page of text is mostly paper. More than ``MAX_BRIGHT_FRACTION`` is refused
   (and the reason says that an inverted radiograph, air shown white, would read so too).
4. **A circular field on black.** The bright region (above 15 % of the range) is fitted with a circle by
   least squares (Kåsa, "A circle fitting procedure and its error analysis", IEEE Trans Instrum Meas
   1976;IM-25:8-14), leaving out its boundary along the edges of the frame; when the region is surrounded by
   black and its outline deviates from the circle by less than ``MAX_CIRCLE_DEVIATION`` of the radius (root
   mean square), the image is a fundus camera's (or a microscope's) field, not a chest radiograph.

Every threshold here is MediLens's own, set with margins on generated images (chest films from two
independent generators, noise, pages of text, colour photographs, skin and fundus photographs) and a few
real photographs and pages shipped with scikit-image; **none has been validated on real radiographs**.
Measured figures are in README and the tests.

Why not an out-of-distribution score on the model's own features (Mahalanobis distance on penultimate
features, Lee et al., "A simple unified framework for detecting out-of-distribution samples and adversarial
attacks", NeurIPS 2018): tried on the reference model (mean and covariance of its 32 max-pooled features over
400 images of its own training generator), the distance put 40 chest films of an independent generator
(median 15.6) as far out as white noise (median 11.6), while 200 held-out images of the training generator
stayed under 9.0 (99th percentile 8.3): a network trained on one generator's 640 images knows that
generator, not chest films. The statistics would also have to come from each model's own
training data, which a registered model version does not carry. These statistics need no model and mean
the same for every model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy

THUMBNAIL_SIDE = 256
MAX_COLOURFULNESS = 15.0  # Hasler & Süsstrunk's "slightly colourful"
MIN_NEIGHBOUR_CORRELATION = 0.85  # MediLens's own: generated chest films 0.97-0.996, text 0.6-0.8, noise 0
BRIGHT_LEVEL = 0.9  # of the 1st-99th percentile range
MAX_BRIGHT_FRACTION = 0.5  # MediLens's own: generated chest films under 0.1, pages of text 0.75-0.8
FIELD_LEVEL = 0.15  # of the range: the black surround of a fundus photo is far below, its field far above
MAX_CIRCLE_DEVIATION = 0.025  # MediLens's own: fundus fields under 0.015, chest outlines 0.045 and more


@dataclass(frozen=True)
class Suitability:
    """The statistics (for the results) and the problems found (empty: plausibly a chest radiograph)."""

    colourfulness: float
    neighbour_correlation: float
    bright_fraction: float
    circle_deviation: float | None
    problems: tuple[str, ...]

    def as_details(self) -> dict:
        return {
            "colourfulness": round(self.colourfulness, 2),
            "neighbour_correlation": round(self.neighbour_correlation, 4),
            "bright_fraction": round(self.bright_fraction, 4),
            "circle_deviation": None if self.circle_deviation is None else round(self.circle_deviation, 4),
            "passed": not self.problems,
            "validated_on_real_radiographs": False,
        }

    def refusal(self) -> str | None:
        if not self.problems:
            return None
        return (
            "this does not look like a chest radiograph: "
            + "; ".join(self.problems)
            + ". Upload a frontal chest radiograph (DICOM, or a PNG or JPEG export of one)."
        )


def colourfulness(rgb) -> float:
    """Hasler & Süsstrunk's M on a uint8 (or 0-255 float) RGB array."""
    import numpy as np

    values = np.asarray(rgb, dtype=np.float64)
    red, green, blue = values[..., 0], values[..., 1], values[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * mean)


def picture_colourfulness(data: bytes) -> float:
    """M of a PNG/JPEG's colours, on a thumbnail (0 for a greyscale file, without decoding it twice)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        if picture.mode in ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"):
            return 0.0
        picture.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decoded at a reduced scale
        picture = picture.convert("RGB")
        picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
        import numpy as np

        return colourfulness(np.asarray(picture))


def thumbnail(values) -> numpy.ndarray:
    """A 2-D image reduced by block means (an integer factor) to at most THUMBNAIL_SIDE px on its longer
    side, as float64. Taken on the stored values: the statistics below do not depend on the grey scale, and
    the upload (stored pixels, no window yet) and the analysis must measure the same thing."""
    import math

    import numpy as np

    values = np.asarray(values)
    height, width = values.shape
    factor = max(1, math.ceil(max(height, width) / THUMBNAIL_SIDE))
    rows, columns = (height // factor) * factor, (width // factor) * factor
    blocks = values[:rows, :columns].reshape(rows // factor, factor, columns // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float64)


def _correlation(first, second) -> float:
    import numpy as np

    first = first - first.mean()
    second = second - second.mean()
    denominator = float(np.sqrt((first * first).sum() * (second * second).sum()))
    return float((first * second).sum()) / denominator if denominator > 0 else 0.0


def neighbour_correlation(small) -> float:
    return 0.5 * (_correlation(small[:, 1:], small[:, :-1]) + _correlation(small[1:], small[:-1]))


def circle_deviation(scaled) -> float | None:
    """How far the bright region (above FIELD_LEVEL of the range) is from a circle (``imaging.circle_deviation``)."""
    from scipy import ndimage

    from ..imaging import circle_deviation as deviation
    from ..imaging import largest_region

    field = ndimage.binary_opening(scaled > FIELD_LEVEL, iterations=2)  # drops specks of the surround
    return deviation(largest_region(field)) if field.any() else None


def assess(pixels, *, colour: float) -> Suitability:
    """The four statistics of the module docstring on a PNG/JPEG's stored pixels (2-D, white = dense, any bit
    depth) and the colourfulness of the file they came from."""
    import numpy as np

    small = thumbnail(pixels)
    low, high = (float(v) for v in np.percentile(small, [1, 99]))
    scaled = np.clip((small - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(small)
    correlation = neighbour_correlation(small)
    bright = float(np.mean(scaled >= BRIGHT_LEVEL)) if high > low else 0.0
    deviation = circle_deviation(scaled) if high > low else None
    problems = []
    if colour >= MAX_COLOURFULNESS:
        problems.append(
            f"the image is in colour (colourfulness {colour:.0f}, where a greyscale image is 0 and "
            f"{MAX_COLOURFULNESS:g} is 'slightly colourful' on Hasler and Süsstrunk's scale), and a radiograph is "
            "greyscale: it may be a photograph"
        )
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        problems.append(
            f"neighbouring pixels are almost unrelated (correlation {correlation:.2f}; the smooth anatomy of a "
            f"radiograph gives {MIN_NEIGHBOUR_CORRELATION:g} or more): it looks like noise, text or a fine texture"
        )
    if bright > MAX_BRIGHT_FRACTION:
        problems.append(
            f"{bright:.0%} of the image is at its brightest, like a white page (a radiograph's lungs and the air "
            "around the body are dark; a radiograph shown inverted, air white, would also read so)"
        )
    if deviation is not None and deviation < MAX_CIRCLE_DEVIATION:
        problems.append(
            f"it shows a circular field on a black surround (its outline is a circle within {deviation:.1%}), as a "
            "fundus camera's photograph does"
        )
    return Suitability(
        colourfulness=colour,
        neighbour_correlation=correlation,
        bright_fraction=bright,
        circle_deviation=deviation,
        problems=tuple(problems),
    )
