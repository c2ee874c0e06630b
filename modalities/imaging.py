"""Small image helpers shared by the image modalities (retinal and radiology; usable by dermatology).

numpy and Pillow (and scipy for ``circle_deviation``), imported inside the functions: the web process
imports every analyzer module at start-up and must not pay for them. Arrays are ``uint8`` RGB, shape (height, width, 3),
unless a function says otherwise.

* ``load_rgb(file, max_pixels=...)``: an ``InputFile`` decoded to an RGB array (greyscale, palette,
  alpha and 16-bit images included), with a readable ``AnalysisError`` when it cannot be.
* ``decode_rgb(data, max_pixels=...)``: the same from bytes or a binary file object.
* ``pil_to_rgb(image)``: an already opened Pillow image to the same RGB array.
* ``resize_rgb(rgb, (width, height))``: anti-aliased resampling (Pillow's Lanczos filter, whose support
  widens with the reduction factor, so downsizing low-pass filters first and does not alias).
* ``is_greyscale(rgb)``: all three channels equal (a red-free photo, a radiograph).
* ``overlay_mask(rgb, mask, colour, opacity)``: a boolean mask painted over a photo.
* ``draw_circle(rgb, centre, radius, colour, width)``: a circle outline, e.g. to mark a landmark.
* ``encode_png(rgb)``: PNG bytes, e.g. for ``AnalysisResult.explanation_image_png``.
* ``largest_region(mask)``: the largest connected region of a boolean mask, holes filled.
* ``circle_deviation(field)``: how far a region's outline is from a circle (a fundus camera's field of view
  is one; a chest's outline or a page is not).
"""

from __future__ import annotations

import io
import warnings
from typing import IO, TYPE_CHECKING

from .base import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .base import InputFile

# Pillow modes holding one channel of more than 8 bits (16-bit PNG and TIFF, float TIFF).
_WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def decode_rgb(data: bytes | IO[bytes], *, max_pixels: int) -> np.ndarray:
    """Decode an image to uint8 RGB. Refuses more than ``max_pixels`` pixels before decoding them.

    Greyscale becomes three equal channels; 16-bit and float images are scaled to 8 bits by their
    range (65535 for 16-bit data, the maximum for float); alpha is dropped (medical photos carry no
    meaningful transparency). Raises AnalysisError with a reason a clinician can read.
    """
    from PIL import Image, ImageOps

    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            width, height = image.size
            if width * height > max_pixels:
                raise AnalysisError(
                    f"The image is {width}x{height} pixels ({width * height:,}); this analysis reads at most "
                    f"{max_pixels:,} pixels."
                )
            image.load()
            image = ImageOps.exif_transpose(image)  # a no-op for uploads, which are stored upright
    except AnalysisError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AnalysisError("The stored image cannot be decoded (it is truncated or corrupt).") from None
    return pil_to_rgb(image)


def pil_to_rgb(image) -> np.ndarray:
    """A decoded Pillow image as uint8 RGB (see ``decode_rgb`` for greyscale, 16-bit and alpha)."""
    import numpy as np

    if image.mode in _WIDE_GREY_MODES:
        grey = np.asarray(image, dtype=np.float64)
        top = float(grey.max()) if image.mode == "F" else (65535.0 if grey.max() > 255 else 255.0)
        grey = np.clip(grey / (top or 1.0) * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, LA, P, RGBA, CMYK, YCbCr, 1
    return np.array(image, dtype=np.uint8)


def load_rgb(file: InputFile, *, max_pixels: int) -> np.ndarray:
    """Decode a stored input file (see ``decode_rgb``)."""
    with file.open() as stream:
        data = stream.read()
    if not data:
        raise AnalysisError(f"The stored file {file.filename} is empty.")
    return decode_rgb(data, max_pixels=max_pixels)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample to ``size`` = (width, height) with Pillow's Lanczos filter (anti-aliased when reducing)."""
    import numpy as np
    from PIL import Image

    width, height = size
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return rgb
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)


def is_greyscale(rgb: np.ndarray) -> bool:
    import numpy as np

    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def overlay_mask(rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], opacity: float = 0.75) -> np.ndarray:
    """A copy of ``rgb`` with ``colour`` blended in at ``opacity`` where ``mask`` is true."""
    import numpy as np

    out = rgb.astype(np.float32)
    out[mask] = (1.0 - opacity) * out[mask] + opacity * np.asarray(colour, dtype=np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def draw_circle(
    rgb: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    colour: tuple[int, int, int],
    width: int = 3,
) -> np.ndarray:
    """A copy of ``rgb`` with a circle outline; ``centre`` is (x, y) in pixels."""
    import numpy as np
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    x, y = centre
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=width)
    return np.asarray(image, dtype=np.uint8)


def encode_png(rgb: np.ndarray, *, compress_level: int = 3) -> bytes:
    """PNG bytes. Level 3 of 9: a little larger than the default 6, and several times faster to write."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def largest_region(mask):
    """The largest 4-connected region of a boolean mask, its holes filled (the mask itself when empty)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))


# circle_deviation's defaults, in pixels of a thumbnail of about 256 px.
NOTCH_RADIUS = 3  # a vessel crossing a fundus field's rim is 1-4 px wide at this size
MIN_SURROUND_FRACTION = 0.05  # a surround is a real part of the frame, not a few dark corner pixels
MIN_OUTLINE_PIXELS = 40
ANGLE_BINS = 36
MIN_ANGLE_COVERAGE = 0.5  # of the directions round the centre (a fundus field cut by the frame: 0.65-0.75)


def circle_deviation(field) -> float | None:
    """The root-mean-square distance of a region's outline from its least-squares circle, as a fraction of the
    circle's radius (Kåsa, "A circle fitting procedure and its error analysis", IEEE Trans Instrum Meas
    1976;IM-25:8-14). ``field``: a boolean mask of one region (e.g. ``largest_region``), on a thumbnail.

    The outline along the frame's edges is left out (a field cut by the frame is still a circle). None when
    the region has almost no surround (it fills the frame), too little outline to fit, or an outline that does
    not go round the circle's centre in at least half the directions (a short arc, such as a chest's shoulders,
    fits some circle well and says nothing). Dark vessels crossing a fundus field's rim cut notches into it: a
    closing with a disc of ``NOTCH_RADIUS`` mends them, on a copy padded with its own edge so that a field cut
    by the frame is not eaten back from the frame's side.
    """
    import numpy as np
    from scipy import ndimage

    field = np.asarray(field, dtype=bool)
    if field.size == 0 or 1.0 - float(field.mean()) < MIN_SURROUND_FRACTION:
        return None
    pad = NOTCH_RADIUS + 1
    yy, xx = np.mgrid[-NOTCH_RADIUS : NOTCH_RADIUS + 1, -NOTCH_RADIUS : NOTCH_RADIUS + 1]
    disc = xx * xx + yy * yy <= NOTCH_RADIUS * NOTCH_RADIUS
    field = ndimage.binary_closing(np.pad(field, pad, mode="edge"), structure=disc)[pad:-pad, pad:-pad]
    outline = field & ~ndimage.binary_erosion(field)
    outline[0, :] = outline[-1, :] = outline[:, 0] = outline[:, -1] = False
    rows, columns = np.nonzero(outline)
    if len(rows) < MIN_OUTLINE_PIXELS:
        return None
    x, y = columns.astype(np.float64), rows.astype(np.float64)
    # Kåsa: x^2 + y^2 = 2 a x + 2 b y + c is linear in (a, b, c); the radius^2 is c + a^2 + b^2.
    design = np.stack([2 * x, 2 * y, np.ones_like(x)], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, x * x + y * y, rcond=None)
    radius_squared = c + a * a + b * b
    if radius_squared <= 0:
        return None
    directions = np.floor((np.arctan2(y - b, x - a) + np.pi) / (2 * np.pi) * ANGLE_BINS).astype(int) % ANGLE_BINS
    if len(np.unique(directions)) < MIN_ANGLE_COVERAGE * ANGLE_BINS:
        return None
    radius = float(np.sqrt(radius_squared))
    return float(np.sqrt(np.mean((np.hypot(x - a, y - b) - radius) ** 2)) / radius)
