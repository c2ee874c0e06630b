"""The photo, its field of view and the working size (stages "image" and "field" of the retinal analysis).

1. **image**: decode (``modalities.imaging``).
2. **field**: a photo whose brightest 1% of pixels are darker than ``BLACK_LEVEL`` is black: failed with
   that reason. The field of view (the illuminated disc of a fundus camera) is where the red channel, the
   brightest channel of the fundus, exceeds ``FIELD_FRACTION`` of its 99th percentile (and at least
   ``FIELD_MIN_LEVEL``): the largest connected region, holes filled. It is found on a thumbnail, the photo
   is cropped to its bounding box and resampled (Lanczos, anti-aliased) so that the longer side of the
   crop is ``WORKING_SIZE`` = 1024 px, the **working size**: every length of the later stages (filter scales,
   margins, minimum segment length) is in working pixels, so it means the same fraction of the field whatever
   the camera's resolution. Why 1024: the Frangi filter is the cost of this analysis and grows with the pixel
   count; at 2048 px it takes more than 10 s on 2 cores, at 1024 px about 0.7 s with the two scales used,
   while the main vessels (about 8-14 px wide at 1024) and most branches (3-6 px) stay resolved. A field
   smaller than ``MIN_FIELD_FRACTION`` of the photo, or under ``MIN_FIELD_DIAMETER`` px across in the
   original, fails with the reason (enlarging a small field to the working size would add no detail).
   Measurements are made in the **analysis region**: the field eroded by ``FIELD_MARGIN`` px, so that the
   field's own dark rim is not read as a vessel.

Every threshold here is MediLens's own engineering value (stated with why it has it), not a published one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import imaging
from ..base import AnalysisError

# --- inputs --------------------------------------------------------------------------------------------
MAX_PIXELS = 40_000_000  # fundus cameras write 5-24 MP; 40 MP leaves room, and bounds worker memory (~120 MB RGB)
# The shorter side a photo needs at upload. A 512 px photo of a 45-degree field puts ~40 px on a millimetre
# of retina: the main vessels (~100-150 um) are 4-6 px wide, the smaller branches 2 px, the limit of the
# filter's smallest scale. Public research sets start at 565 px (DRIVE).
MIN_SIDE = 512
MIN_FIELD_DIAMETER = 400  # px of the original photo across the field (the same reasoning, for the field)

# --- field ---------------------------------------------------------------------------------------------
WORKING_SIZE = 1024
THUMBNAIL_SIZE = 256  # the field's bounding box is found at this size, then refined at the working size
BLACK_LEVEL = 20  # 99th percentile of the brightest channel below this (of 255): a black photo
FIELD_FRACTION = 0.10  # of the red channel's 99th percentile: the camera's black surround is far below
FIELD_MIN_LEVEL = 10  # and never below this (JPEG noise in the black surround reaches a few levels)
MIN_FIELD_FRACTION = 0.10  # of the photo: a fundus field fills most of the frame (a 4:3 frame ~ 55%)
FIELD_MARGIN = 12  # px eroded from the field: 4 x the largest Frangi scale, past the rim's filter response


@dataclass
class Working:
    """The photo at the working size and how it maps back to the original."""

    rgb: Any  # uint8 HxWx3
    field: Any  # bool HxW
    region: Any  # bool HxW: the field less FIELD_MARGIN
    greyscale: bool
    original_size: tuple[int, int]  # (width, height)
    offset: tuple[int, int]  # (x, y) of the crop in the original
    scale: float  # working px per original px
    field_fraction: float  # of the original photo

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        return self.offset[0] + x / self.scale, self.offset[1] + y / self.scale


def luminance(rgb):
    """ITU-R BT.601 luma of a uint8 RGB array, float32."""
    import numpy as np

    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


def black_problem(rgb) -> str | None:
    """The reason a photo is black, or None (also run at upload on a thumbnail)."""
    import numpy as np

    brightest = float(np.percentile(rgb.max(axis=2), 99))
    if brightest < BLACK_LEVEL:
        return (
            f"the photo is black: its brightest 1% of pixels reach {brightest:.0f} of 255 (at least {BLACK_LEVEL} "
            "is needed to see a retina). Check the exposure and the camera, and retake it."
        )
    return None


def field_threshold(red) -> float:
    """The red level above which a pixel is in the camera's lit field (see the module docstring)."""
    import numpy as np

    return max(FIELD_MIN_LEVEL, FIELD_FRACTION * float(np.percentile(red, 99)))


def working_image(rgb) -> Working:
    """Find the field, crop the photo to it and resample to the working size. Raises AnalysisError."""
    import numpy as np
    from scipy import ndimage

    height, width = rgb.shape[:2]
    step = max(1, max(height, width) // THUMBNAIL_SIZE)
    problem = black_problem(rgb[::step, ::step])
    if problem:
        raise AnalysisError(problem[:1].upper() + problem[1:])
    greyscale = imaging.is_greyscale(rgb)
    thumb_red = rgb[::step, ::step, 0]
    threshold = field_threshold(thumb_red)
    thumb_field = imaging.largest_region(ndimage.binary_opening(thumb_red > threshold))
    field_fraction = float(thumb_field.mean())
    if field_fraction < MIN_FIELD_FRACTION:
        raise AnalysisError(
            f"No fundus field of view was found: the illuminated area covers {field_fraction:.0%} of the photo "
            f"(at least {MIN_FIELD_FRACTION:.0%} is needed). Check that this is a fundus photograph and that "
            "the retina is in view."
        )
    rows, cols = np.nonzero(thumb_field)
    top, bottom = max(0, rows.min() * step - step), min(height, (rows.max() + 2) * step)
    left, right = max(0, cols.min() * step - step), min(width, (cols.max() + 2) * step)
    diameter = max(bottom - top, right - left)
    if diameter < MIN_FIELD_DIAMETER:
        raise AnalysisError(
            f"The field of view is {diameter} pixels across; this analysis needs at least {MIN_FIELD_DIAMETER} "
            "(upload the photograph at the camera's full resolution)."
        )
    scale = WORKING_SIZE / diameter
    size = (max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale)))
    work = imaging.resize_rgb(rgb[top:bottom, left:right], size)
    field = ndimage.binary_opening(work[..., 0] > threshold, structure=np.ones((5, 5), bool))
    field = imaging.largest_region(field)
    # An octagonal margin (half the steps with the 3x3 square, half with the cross): within 1% of a Euclidean
    # margin's area, three times cheaper than a distance transform.
    region = ndimage.binary_erosion(field, structure=np.ones((3, 3), bool), iterations=FIELD_MARGIN // 2)
    region = ndimage.binary_erosion(
        region, structure=ndimage.generate_binary_structure(2, 1), iterations=FIELD_MARGIN - FIELD_MARGIN // 2
    )
    if not region.any():
        raise AnalysisError(
            "No fundus field of view was found: the illuminated part of the photo is not one connected disc."
        )
    return Working(
        rgb=work,
        field=field,
        region=region,
        greyscale=greyscale,
        original_size=(width, height),
        offset=(left, top),
        scale=scale,
        field_fraction=field_fraction,
    )
