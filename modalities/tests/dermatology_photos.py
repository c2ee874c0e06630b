"""Lesion photos made for the dermatology tests, independently of ``modalities.dermatology.synthetic``,
with the true size, shape and colours known from how they are drawn; and the analyzer run as the worker
runs it (a fake context, no database).

The generated photos are skin (sRGB 224, 182, 160, with Gaussian noise of 3 levels per channel) with a
lesion drawn at 4x supersampling and box-filtered down, so edges are anti-aliased like a camera's.

Why the tolerances are what they are (each is used in the tests):

* SIZE_PX: the boundary is where the colour difference from the skin crosses the segmentation's low
  threshold (half of Otsu's, about a quarter of a sharp edge's contrast) on the photo smoothed with a
  Gaussian of sigma 2 px. On a sharp edge that crossing lies 0.67 sigma = 1.35 px outside the true edge,
  so a diameter comes out about 2.7 px long, plus up to 1 px from anti-aliasing and rounding: 4 px.
* SHAPE_EXACT: shape indices of shapes that are exactly symmetric: the digitised outline and the block
  reduction to ~120 px used for asymmetry leave up to ~2% of the area unmatched (threshold 10%).
* Compactness of a circle and an ellipse: the marching-squares contour of a digitised, 1-px-smoothed
  outline is 0.5-1% longer than the true curve (its squared ratio, 1-2%): 0.03.
* The star's irregularity and compactness: smoothing rounds its 16 corners, which shortens its perimeter
  (the irregularity index by ~1.5%, the compactness, which squares it, by ~7%): 3% and 10%.
"""

from __future__ import annotations

import io
import math
from contextlib import contextmanager
from types import SimpleNamespace
from unittest import mock

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from modalities.base import AnalysisContext, InputFile, PatientFacts
from modalities.dermatology import DermatologyAnalyzer, measurement, model
from modalities.dermatology.photo import decode_photo
from modalities.dermatology.segmentation import segment_lesion

ANALYZER = DermatologyAnalyzer()
PATIENT = PatientFacts(
    age=52,
    sex_at_birth="female",
    bmi=None,
    has_diabetes=False,
    treated_hypertension=False,
    current_smoker=False,
    on_statin=False,
    prior_cardiovascular_disease=False,
)
SKIN = (224, 182, 160)
DARK_BROWN = (98, 58, 36)
LIGHT_BROWN = (178, 122, 84)
BLACK = (35, 28, 28)
BLUE_GREY = (104, 118, 140)
RED = (185, 45, 55)
WHITE = (245, 245, 242)

SIZE_PX = 4.0
SHAPE_EXACT = 0.03
COMPACTNESS_SMOOTH = 0.03


# --- generated photos --------------------------------------------------------------------------------------
def render(
    paint,
    *,
    size=(512, 384),
    skin=SKIN,
    fade: float = 0.0,
    supersample: int = 4,
    seed: int = 0,
    fmt: str = "PNG",
    fade_left_only: bool = False,
) -> bytes:
    """``paint(mask_draw, colour_draw, s)`` draws the lesion at s-times scale. ``fade`` blurs the lesion's
    edge (a Gaussian of that many px); ``fade_left_only`` keeps the right half sharp."""
    width, height = size
    big = (width * supersample, height * supersample)
    mask, colour = Image.new("L", big, 0), Image.new("RGB", big, (0, 0, 0))
    paint(ImageDraw.Draw(mask), ImageDraw.Draw(colour), supersample)
    mask = mask.resize(size, Image.Resampling.BOX)
    colour = colour.resize(size, Image.Resampling.BOX)
    if fade:
        blurred = mask.filter(ImageFilter.GaussianBlur(fade))
        if fade_left_only:
            keep = np.asarray(mask).copy()
            keep[:, : width // 2] = np.asarray(blurred)[:, : width // 2]
            mask = Image.fromarray(keep)
        else:
            mask = blurred
    photo = Image.new("RGB", size, skin)
    photo.paste(colour.filter(ImageFilter.GaussianBlur(fade)) if fade and not fade_left_only else colour, (0, 0), mask)
    noisy = np.asarray(photo, dtype=np.float32) + np.random.default_rng(seed).normal(0, 3, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
        buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {})
    )
    return buffer.getvalue()


def disc(radius, centre=(256, 192), colour=DARK_BROWN):
    def paint(mask, colours, s):
        box = [(centre[0] - radius) * s, (centre[1] - radius) * s, (centre[0] + radius) * s, (centre[1] + radius) * s]
        mask.ellipse(box, fill=255)
        colours.ellipse(box, fill=colour)

    return paint


def polygon(points, colour=DARK_BROWN):
    def paint(mask, colours, s):
        scaled = [(x * s, y * s) for x, y in points]
        mask.polygon(scaled, fill=255)
        colours.polygon(scaled, fill=colour)

    return paint


def circles(specs, colour=DARK_BROWN):
    def paint(mask, colours, s):
        for cx, cy, r in specs:
            box = [(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s]
            mask.ellipse(box, fill=255)
            colours.ellipse(box, fill=colour)

    return paint


def sectors(palette, radius=120, centre=(256, 192), start=0.0):
    """A disc cut into equal wedges, one colour each."""

    def paint(mask, colours, s):
        box = [(centre[0] - radius) * s, (centre[1] - radius) * s, (centre[0] + radius) * s, (centre[1] + radius) * s]
        mask.ellipse(box, fill=255)
        step = 360 / len(palette)
        for i, colour in enumerate(palette):
            colours.pieslice(box, start + i * step, start + (i + 1) * step, fill=colour)

    return paint


def ellipse_points(a, b, degrees, centre=(256, 192), n=720):
    t, r = np.linspace(0, 2 * math.pi, n, endpoint=False), math.radians(degrees)
    x = centre[0] + a * np.cos(t) * math.cos(r) - b * np.sin(t) * math.sin(r)
    y = centre[1] + a * np.cos(t) * math.sin(r) + b * np.sin(t) * math.cos(r)
    return list(zip(x, y, strict=True))


def star_points(tips, outer, inner, centre=(256, 192), rotation=0.0):
    return [
        (
            centre[0] + (outer if k % 2 == 0 else inner) * math.cos(math.pi * k / tips + rotation),
            centre[1] + (outer if k % 2 == 0 else inner) * math.sin(math.pi * k / tips + rotation),
        )
        for k in range(2 * tips)
    ]


# --- running the pieces ------------------------------------------------------------------------------------
_measured: dict = {}


def measure(key: str, data: bytes) -> SimpleNamespace:
    """Segmentation and features of one photo (cached per test session: several tests read one photo)."""
    if key not in _measured:
        photo = decode_photo(io.BytesIO(data))
        segmentation = segment_lesion(photo.rgb)
        geometry = measurement.measure_geometry(segmentation.mask)
        asymmetry = measurement.measure_asymmetry(segmentation.mask, segmentation.lab, geometry.principal_angle)
        _measured[key] = SimpleNamespace(
            photo=photo,
            segmentation=segmentation,
            geometry=geometry,
            asymmetry=asymmetry,
            border=measurement.measure_border_abruptness(
                segmentation.mask, photo.rgb, segmentation.skin_lab, geometry, asymmetry.angle
            ),
            colours=measurement.measure_colours(segmentation.mask, segmentation.lab, segmentation.skin_lab[0]),
        )
    return _measured[key]


def fake_context(data: bytes, inputs: dict, *, filename="lesion.png", stages=None, organization_id=None):
    recorded = stages if stages is not None else []

    @contextmanager
    def stage(name):
        recorded.append(name)
        yield

    return AnalysisContext(
        inputs=inputs,
        files=[InputFile(filename, "image/png", len(data), lambda: io.BytesIO(data))],
        patient=PATIENT,
        stage=stage,
        organization_id=organization_id,
    )


def analyze(data: bytes, inputs: dict | None = None, *, runtime=None, stages=None, organization_id=None):
    resolved = ANALYZER.validate_inputs(inputs=inputs or {}, patient=PATIENT)
    with mock.patch.object(model, "_runtime", lambda: runtime):
        result = ANALYZER.analyze(fake_context(data, resolved, stages=stages, organization_id=organization_id))
    result.check(ANALYZER.modality.catalogue)
    return result
