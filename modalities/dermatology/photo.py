"""Reading the uploaded photo and refusing one that cannot be analysed (too small, greyscale, black, blown
out, blank or corrupt). The same checks run at upload, on a small decode, so a bad photo is a 400 there.

The photo is decoded at (at most) 1024 px on the long side: a JPEG at a reduced DCT scale first, so a
48-megapixel photo costs little more than a 1-megapixel one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WORKING_LONG_SIDE = 1024
MIN_SHORT_SIDE = 128  # pixels of the uploaded photo

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


class PhotoProblem(ValueError):
    """The photo cannot be analysed; the message says why, in a clinician's words."""


@dataclass
class Photo:
    rgb: Any  # float32 HxWx3 in 0..1, at the working size
    original_size: tuple[int, int]  # (width, height) of the uploaded photo
    scale: float  # working pixels per uploaded-photo pixel

    @property
    def working_size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def decode_photo(stream, *, long_side: int = WORKING_LONG_SIDE) -> Photo:
    """Decode a JPEG/PNG at (at most) ``long_side`` px on the long side; refuse photos that cannot be read
    or analysed (too small, greyscale, black, blown out, blank). Raises PhotoProblem."""
    import numpy as np
    from PIL import Image

    from .. import imaging

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
