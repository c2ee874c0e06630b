"""Generated lesion photos for the demo and the benchmark. Never imported on the worker's path
(``modalities.registry.demo_cases`` imports it when the demo is seeded); tests make their own photos,
independently of this generator."""

from __future__ import annotations

import io
import math

from ..base import DemoCase

LIGHT_BROWN, DARK_BROWN, BLACK, BLUE_GREY = (178, 122, 84), (98, 58, 36), (35, 28, 28), (104, 118, 140)


def demo_cases() -> list[DemoCase]:
    """A round one-colour mole with a scale, an irregular three-colour lesion without one, and a dermoscopy
    image with the clinician's structure count (so the Stolz TDS applies)."""
    return [
        DemoCase(
            inputs={"image_type": "clinical", "pixels_per_mm": 20, "lesion_id": "back 1"},
            files=[("back-mole.jpg", demo_photo(seed=1, shape="round", colours=[LIGHT_BROWN]))],
        ),
        DemoCase(
            inputs={"image_type": "clinical"},
            files=[("shoulder.jpg", demo_photo(seed=2, shape="irregular", colours=[DARK_BROWN, BLACK, LIGHT_BROWN]))],
        ),
        DemoCase(
            inputs={"image_type": "dermoscopy", "pixels_per_mm": 40, "dermoscopic_structures": 3},
            files=[
                (
                    "dermoscopy.png",
                    demo_photo(
                        seed=3,
                        shape="irregular",
                        colours=[DARK_BROWN, BLUE_GREY, LIGHT_BROWN],
                        dermoscopy=True,
                        fmt="PNG",
                    ),
                )
            ],
        ),
    ]


def demo_photo(*, seed: int, shape: str, colours, size=(1024, 768), dermoscopy: bool = False, fmt: str = "JPEG"):
    """A generated lesion photo for the demo: skin with texture and uneven light, a lesion drawn on it."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.06 * ((xx / width - 0.4) ** 2 + (yy / height - 0.5) ** 2)
    skin = np.array([224, 182, 160], dtype=np.float32) * light[..., None]
    skin += rng.normal(0, 3, (height, width, 3)).astype(np.float32)
    canvas = Image.fromarray(np.clip(skin, 0, 255).astype(np.uint8))
    cx, cy = width / 2, height / 2
    if shape == "round":
        outline = [(cx + 55 * math.cos(t), cy + 50 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 180)]
    else:
        radii = 150 + np.convolve(rng.normal(0, 30, 40), np.ones(3) / 3, mode="same")
        outline = [
            (cx + r * math.cos(t), cy + 0.8 * r * math.sin(t))
            for r, t in zip(radii, np.linspace(0, 2 * math.pi, 40, endpoint=False), strict=True)
        ]
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    paint = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(paint)
    for i, colour in enumerate(colours[1:], start=1):  # further colours as wedges from the centre
        start = i * 360 / len(colours)
        draw.pieslice([cx - 400, cy - 400, cx + 400, cy + 400], start, start + 360 / len(colours), fill=colour)
    canvas.paste(paint, (0, 0), mask.filter(ImageFilter.GaussianBlur(1.5)))
    if dermoscopy:
        rim = Image.new("L", size, 255)
        ImageDraw.Draw(rim).ellipse([-60, -140, width + 60, height + 140], fill=0)
        canvas.paste((0, 0, 0), (0, 0), rim.filter(ImageFilter.GaussianBlur(4)))
    buffer = io.BytesIO()
    canvas.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()
