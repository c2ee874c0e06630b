"""Is the photo a fundus photograph at all? Checked at upload (a 400) and again before the analysis.

Before this check a skin photo, a chest film or a page of text got a retinal score: the vessel filter finds
"vessels" in any texture. A fundus photograph shows at least one of two things nothing else here shows, and a
photo that shows neither is refused with that reason:

* **a circular field of view**: the illuminated field of a fundus camera (the red channel above a tenth of its
  99th percentile, as ``field.working_image`` finds it) is a disc on a black surround, sometimes cut by the top
  and bottom of the frame. Its outline is fitted with a circle (``imaging.circle_deviation``, Kåsa 1976) and
  must deviate from it by less than ``MAX_FIELD_DEVIATION`` of the radius (root mean square);
* **an optic disc**: a bright, round, disc-sized spot. The brightest window ``DISC_WINDOW_FRACTION`` of the
  field's diameter across (the disc is about 1.8 mm of a 12-15 mm field; ``measure`` uses the same size) must be
  at least ``DISC_MIN_CONTRAST`` times brighter than its surroundings in *every* direction (the mean of each of
  eight sectors of a ring around it, 1.5 to 3 window radii out), so that a bright band (a radiograph's spine)
  is no disc; and at least ``DISC_MIN_FILL`` of the window must be bright (above the midpoint between the
  window's mean and its brightest surrounding sector), so that a small glint (a specular highlight on skin) is
  no disc either. In a colour photo the disc must also sit in a fundus: the field's median red at least
  ``MIN_RED_GREEN`` times its median green (blood and melanin absorb green: generated fundus photos 1.8-3.3, the
  CC0 photo 2.6; skin 1.2-1.6, a landscape under 1), so that the sun in a sky is no disc. A greyscale (red-free)
  photo has no colour to judge: a greyscale picture with a bright round spot passes this check (and then meets
  the vessel checks), which is a known limit.

Both are measured on a thumbnail of ``THUMBNAIL_SIZE`` px made from the stored bytes the same way at upload and
in the analysis, so the two decide alike. The thresholds are MediLens's own, set with margins on generated
photos (fundus photos of an independent generator, skin photos, chest films, pages, colour photos and noise; see
the tests) and the CC0 sample fundus photo of scikit-image; they are not validated on a clinical set.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from .. import imaging
from .field import THUMBNAIL_SIZE, field_threshold, luminance

MAX_FIELD_DEVIATION = 0.03  # MediLens's own: fundus fields 0.002-0.012 (the CC0 photo 0.008), chests 0.04 and more
DISC_WINDOW_FRACTION = 0.12  # of the field's diameter
DISC_MIN_CONTRAST = 1.2  # MediLens's own: the window over its brightest surrounding sector
DISC_MIN_FILL = 0.5  # MediLens's own: share of the window that is bright
MIN_RED_GREEN = 1.7  # MediLens's own: median red over median green of a colour photo's field
DISC_MIN_INSIDE = 0.75  # share of the window inside the field (the disc may sit near the field's edge)
SECTORS = 8
MIN_SECTORS = 5  # sectors with enough of the field in them to compare with


@dataclass(frozen=True)
class Evidence:
    """What was found (for the results) and whether it is enough."""

    field_deviation: float | None
    disc_contrast: float | None
    disc_fill: float | None
    red_green: float | None  # None for a greyscale photo

    @property
    def circular_field(self) -> bool:
        return self.field_deviation is not None and self.field_deviation < MAX_FIELD_DEVIATION

    @property
    def optic_disc(self) -> bool:
        return (
            self.disc_contrast is not None
            and self.disc_contrast >= DISC_MIN_CONTRAST
            and (self.disc_fill or 0.0) >= DISC_MIN_FILL
            and (self.red_green is None or self.red_green >= MIN_RED_GREEN)
        )

    def refusal(self) -> str | None:
        if self.circular_field or self.optic_disc:
            return None
        return (
            "this does not look like a fundus photograph: it shows no circular field of view (the lit disc of a "
            "fundus camera on a black surround) and no optic disc (a bright round spot). Upload a colour or "
            "red-free fundus photograph"
        )

    def as_details(self) -> dict:
        def rounded(value):
            return None if value is None else round(value, 4)

        return {
            "circular_field": self.circular_field,
            "field_circle_deviation": rounded(self.field_deviation),
            "optic_disc_seen": self.optic_disc,
            "disc_contrast": rounded(self.disc_contrast),
            "disc_fill": rounded(self.disc_fill),
            "red_green": rounded(self.red_green),
        }


def thumbnail(stream):
    """The photo (bytes or a binary file) as uint8 RGB, at most THUMBNAIL_SIZE px a side (a JPEG is decoded at a
    reduced scale)."""
    from PIL import Image

    with Image.open(io.BytesIO(stream) if isinstance(stream, (bytes, bytearray)) else stream) as picture:
        picture.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        return imaging.pil_to_rgb(picture)


def _field(rgb):
    from scipy import ndimage

    red = rgb[..., 0]
    return imaging.largest_region(ndimage.binary_opening(red > field_threshold(red)))


def _disc(rgb, field) -> tuple[float | None, float | None]:
    """(contrast over the brightest surrounding sector, bright share of the window) at the brightest window."""
    import numpy as np
    from scipy import ndimage

    if not field.any():
        return None, None
    rows, columns = np.nonzero(field)
    diameter = max(rows.max() - rows.min(), columns.max() - columns.min()) + 1
    window = max(3, int(round(DISC_WINDOW_FRACTION * diameter)) | 1)
    light = luminance(rgb).astype(np.float64)
    inside = ndimage.uniform_filter(field.astype(np.float64), window, mode="constant")
    mean = ndimage.uniform_filter(light * field, window, mode="constant") / np.maximum(inside, 1e-9)
    mean[inside < DISC_MIN_INSIDE] = -1.0
    row, column = np.unravel_index(int(np.argmax(mean)), mean.shape)
    centre_value = float(mean[row, column])
    if centre_value <= 0:
        return None, None
    yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]]
    distance = np.hypot(yy - row, xx - column)
    radius = window / 2
    ring = (distance >= 1.5 * radius) & (distance <= 3.0 * radius)
    sector = (np.floor((np.arctan2(yy - row, xx - column) + np.pi) / (2 * np.pi) * SECTORS).astype(int)) % SECTORS
    means = []
    for index in range(SECTORS):
        part = ring & (sector == index)
        lit = part & field
        if part.any() and lit.sum() >= 0.3 * part.sum():
            means.append(float(light[lit].mean()))
    if len(means) < MIN_SECTORS:
        return None, None
    surround = max(means)
    disc = (distance <= radius) & field
    fill = float(np.mean(light[disc] > 0.5 * (centre_value + surround)))
    return centre_value / max(surround, 1e-9), fill


def _red_green(rgb, field) -> float | None:
    import numpy as np

    if imaging.is_greyscale(rgb) or not field.any():
        return None
    red, green = (float(np.median(rgb[..., channel][field])) for channel in (0, 1))
    return red / max(green, 1.0)


def examine(rgb) -> Evidence:
    """The evidence on a thumbnail (``thumbnail``)."""
    field = _field(rgb)
    contrast, fill = _disc(rgb, field)
    return Evidence(
        field_deviation=imaging.circle_deviation(field),
        disc_contrast=contrast,
        disc_fill=fill,
        red_green=_red_green(rgb, field),
    )
