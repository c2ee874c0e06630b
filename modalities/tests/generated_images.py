"""Images made for the radiology and retinal tests, independently of the modalities' own generators.

Nothing here imports ``build_reference_model``, ``modalities.radiology.demo`` or ``modalities.retinal.synthetic``:
a check that passes on its own generator's pictures may only have learnt that generator. These are drawn
differently (other shapes, other renderers, other noise) so that an input check is tested on pictures it has
never been tuned on:

* ``chest_film``: a frontal chest radiograph, white = dense: a thorax outline with shoulders, neck and arms,
  two lung fields (darker) whose bases are the diaphragm domes, the heart shadow to the patient's left, the
  spine and mediastinum (bright), posterior ribs and clavicles, lung markings, detector noise and blur; size,
  aspect, position, rotation, exposure and contrast vary, and a film may carry a side marker, a wire, or an
  effusion that whites out the lower part of one lung (an abnormal film must not be refused as "not a chest").
* ``fundus_photo``: a colour fundus photograph: a circular bright field on black (sometimes cut by the top and
  bottom of the frame), an orange-red fundus with vignetting, a bright optic disc, a darker macula, and dark
  branching vessels (recursive, drawn with Pillow's line renderer); ``red_free`` gives the greyscale
  (green-channel) photo.
* ``skin_photo``, ``document``, ``colour_photo``, ``noise``: pictures that are none of those.

Everything is seeded; each function takes a numpy ``Generator``.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


# --- encoding ------------------------------------------------------------------------------------------------------
def encode(picture, *, format: str = "PNG", quality: int = 92) -> bytes:
    """A float 0..1 (HxW or HxWx3) or uint8 array as PNG or JPEG bytes."""
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format, **({"quality": quality} if format == "JPEG" else {}))
    return buffer.getvalue()


def _smooth_noise(rng, shape, scale: float) -> np.ndarray:
    """Gaussian-filtered white noise, unit standard deviation, correlated over ``scale`` pixels."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.standard_normal(shape), scale)
    return field / max(float(field.std()), 1e-9)


# --- chest radiographs ---------------------------------------------------------------------------------------------
def _band(distance, half_width, softness=1.5):
    """1 inside |distance| < half_width, falling off over ``softness`` pixels."""
    return np.clip((half_width - np.abs(distance)) / softness + 0.5, 0.0, 1.0)


def chest_film(
    rng,
    *,
    height: int | None = None,
    effusion: bool | None = None,
    marker: bool | None = None,
    wire: bool | None = None,
) -> np.ndarray:
    """A frontal chest film as float32 HxW in 0..1, white = dense (see the module docstring)."""
    from scipy import ndimage

    height = int(height or rng.integers(320, 1000))
    width = int(round(height * rng.uniform(0.82, 1.22)))
    effusion = bool(rng.random() < 0.25) if effusion is None else effusion
    marker = bool(rng.random() < 0.5) if marker is None else marker
    wire = bool(rng.random() < 0.3) if wire is None else wire

    # Thorax coordinates: u across (-1 .. 1 at the chest wall), v down (0 at the lung apices, 1 at the costophrenic
    # angles), rotated a few degrees and shifted: patients are never quite centred.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    half = 0.5 * width * rng.uniform(0.66, 0.86)
    length = height * rng.uniform(0.52, 0.66)
    cx = width / 2 + rng.uniform(-0.06, 0.06) * width
    top = height * rng.uniform(0.10, 0.20)
    angle = math.radians(rng.uniform(-4, 4))
    dx, dy = xx - cx, yy - top
    u = (dx * math.cos(angle) + dy * math.sin(angle)) / half
    v = (-dx * math.sin(angle) + dy * math.cos(angle)) / length
    pixel = 1.0 / half  # one pixel in u units

    # Soft tissue: neck, shoulders sloping out, chest wall, abdomen; arms beside the chest.
    shoulders = np.where(v < 0.12, 0.5 + 4.0 * (v + 0.05), 1.18)
    outline = np.minimum(np.where(v < -0.05, 0.30 + 0.2 * np.clip(v + 0.25, 0, None), shoulders), 1.18)
    body = _band(u, outline, 3 * pixel)
    arms = np.zeros_like(u)
    if rng.random() < 0.7:
        for side in (-1, 1):
            arms = np.maximum(arms, _band(u - side * 1.42, 0.16, 4 * pixel) * (v > 0.02))
    tissue_level = rng.uniform(0.42, 0.58)
    thickness = np.clip(1.0 - 0.35 * np.clip(np.abs(u) / 1.18, 0, 1) ** 4, 0, 1)  # thinner at the chest wall
    image = rng.uniform(0.0, 0.10) + np.maximum(body * thickness, 0.8 * arms) * tissue_level

    # Lungs: each from the mediastinum (medial edge) to the chest wall, apex to the diaphragm dome.
    medial = rng.uniform(0.13, 0.19)
    lungs = np.zeros_like(u)
    for side in (-1, 1):
        s = side * u  # 0 at the midline, 1 at this side's chest wall
        centre_s, half_s = (medial + 0.93) / 2, (0.93 - medial) / 2
        rounded = np.abs((s - centre_s) / half_s) ** 3 + np.abs((v - 0.42) / 0.50) ** 2.2 < 1.0
        dome = rng.uniform(0.80, 0.92) - (0.05 if side == -1 else 0.0) + 0.25 * (s - 0.45) ** 2
        lungs = np.maximum(lungs, (rounded & (v < dome) & (s > 0)).astype(np.float64))
    # The heart shadow, to the patient's left (the image's right), and the hila.
    heart = ((u - 0.16) / 0.34) ** 2 + ((v - 0.70) / 0.24) ** 2 < 1.0
    lungs[heart] = 0.0
    lungs = ndimage.gaussian_filter(lungs, height / 200)
    if effusion:
        side = rng.choice([-1, 1])
        level = rng.uniform(0.35, 0.65) - 0.15 * (side * u)  # a meniscus rising to the chest wall
        fluid = (side * u > 0) & (v > level)
        lungs = lungs * np.where(fluid, 0.1, 1.0)
    markings = 0.02 * _smooth_noise(rng, u.shape, height / 90) + 0.01 * _smooth_noise(rng, u.shape, height / 300)
    image -= lungs * (rng.uniform(0.24, 0.34) - markings)

    # Spine and mediastinum: a bright midline, vertebrae as a periodic modulation down it.
    spine = _band(u, 0.055, 3 * pixel) * (v > -0.1) * body
    vertebrae = np.cos(math.pi * v / 0.085) ** 2
    image += spine * (0.08 + 0.05 * vertebrae)
    # Posterior ribs: bands sweeping out from the spine and down, ten a side; clavicles near the top.
    ribs = np.zeros_like(u)
    thickness_v = rng.uniform(0.018, 0.026)
    for side in (-1, 1):
        s = side * u
        for k in range(10):
            start = 0.02 + 0.085 * k
            centre = start - 0.04 + 0.32 * s - 0.12 * s**2
            ribs = np.maximum(ribs, _band(v - centre, thickness_v, 1.5 / length) * (s > 0.06) * (s < 1.0) * (v < 1.0))
        clavicle = _band(v - (0.05 - 0.12 * (s - 0.15)), 0.022, 1.5 / length) * (s > 0.1) * (s < 0.75)
        ribs = np.maximum(ribs, 1.3 * clavicle)
    image += rng.uniform(0.04, 0.07) * ribs * body

    if wire:  # an ECG lead or a line: a thin bright curve
        t = np.linspace(0, 1, 400)
        points = np.stack(
            [cx + half * (0.6 * np.sin(2.0 * t + rng.uniform(0, 3)) - 0.1), top + length * (1.1 * t - 0.1)], axis=1
        )
        mask = Image.new("L", (width, height), 0)
        ImageDraw.Draw(mask).line([tuple(p) for p in points], fill=255, width=max(2, height // 300))
        image = np.maximum(image, np.asarray(mask, dtype=np.float64) / 255 * 0.95)

    image = ndimage.gaussian_filter(image, rng.uniform(0.5, 1.5))
    image += rng.normal(0.0, rng.uniform(0.005, 0.03), image.shape)  # detector noise
    gamma = rng.uniform(0.75, 1.35)
    image = np.clip(image, 0, 1) ** gamma
    low, high = np.percentile(image, [rng.uniform(0, 1), rng.uniform(99, 100)])
    image = np.clip((image - low) / max(high - low, 1e-6), 0, 1)

    if marker:  # a lead side marker ("R" or "L") in a top corner, burned in white
        letter = Image.new("L", (width, height), 0)
        font = ImageFont.load_default(size=max(12, height // 18))
        corner = (int(width * rng.uniform(0.04, 0.12)), int(height * rng.uniform(0.03, 0.08)))
        if rng.random() < 0.5:
            corner = (width - corner[0] - height // 18, corner[1])
        ImageDraw.Draw(letter).text(corner, str(rng.choice(["R", "L"])), fill=255, font=font)
        image = np.maximum(image, np.asarray(letter, dtype=np.float64) / 255)
    return image.astype(np.float32)


# --- fundus photographs --------------------------------------------------------------------------------------------
def _vessel_tree(draw: ImageDraw.ImageDraw, rng, start, direction: float, length: float, width: float, depth: int):
    """A vessel wandering from ``start``; at its end it forks in two thinner, shorter ones (recursively)."""
    x, y = start
    points = [(x, y)]
    steps = 12
    heading = direction
    for _ in range(steps):
        heading += rng.normal(0, 0.12)
        x += math.cos(heading) * length / steps
        y += math.sin(heading) * length / steps
        points.append((x, y))
    draw.line(points, fill=255, width=max(1, int(round(width))), joint="curve")
    if depth > 0 and width > 2.0:
        spread = rng.uniform(0.35, 0.7)
        for sign in (-1, 1):
            _vessel_tree(
                draw, rng, (x, y), heading + sign * spread, length * rng.uniform(0.6, 0.8), width * 0.72, depth - 1
            )


def fundus_photo(
    rng, *, height: int | None = None, red_free: bool = False, truncated: bool | None = None
) -> np.ndarray:
    """A colour (or red-free greyscale) fundus photograph, uint8 HxWx3 (see the module docstring)."""
    from scipy import ndimage

    height = int(height or rng.integers(560, 1100))
    width = int(round(height * rng.uniform(1.0, 1.5)))
    truncated = bool(rng.random() < 0.4) if truncated is None else truncated
    radius = height * (rng.uniform(0.52, 0.58) if truncated else rng.uniform(0.40, 0.48))
    radius = min(radius, 0.49 * width)
    cx, cy = width / 2 + rng.uniform(-0.02, 0.02) * width, height / 2 + rng.uniform(-0.02, 0.02) * height
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot(xx - cx, yy - cy) / radius
    field = r <= 1.0

    base = np.array([rng.uniform(170, 230), rng.uniform(60, 105), rng.uniform(20, 45)])
    shade = 1.0 - rng.uniform(0.25, 0.45) * r**2 + 0.04 * _smooth_noise(rng, r.shape, height / 40)
    image = base[None, None, :] * shade[..., None]
    side = rng.choice([-1, 1])  # left or right eye: the disc is nasal, the macula temporal
    disc_x, disc_y = cx + side * radius * rng.uniform(0.30, 0.45), cy + radius * rng.uniform(-0.08, 0.08)
    disc_radius = radius * rng.uniform(0.12, 0.16)
    disc = np.clip((disc_radius - np.hypot(xx - disc_x, yy - disc_y)) / (0.15 * disc_radius), 0, 1)
    disc_colour = np.array([rng.uniform(235, 255), rng.uniform(195, 230), rng.uniform(130, 170)])
    image = image * (1 - disc[..., None]) + disc_colour[None, None, :] * disc[..., None]
    macula_x = cx - side * radius * rng.uniform(0.05, 0.15)
    macula = np.exp(-((xx - macula_x) ** 2 + (yy - cy) ** 2) / (2 * (0.12 * radius) ** 2))
    image *= (1 - 0.3 * macula)[..., None]

    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    main_width = radius / 45
    for heading in (-1.2, -0.6, 0.6, 1.2):  # the four arcades, leaving the disc towards the macula and away
        toward = math.pi if side == 1 else 0.0
        _vessel_tree(
            draw, rng, (disc_x, disc_y), toward + heading * side + rng.normal(0, 0.1), radius * 0.55, main_width, 4
        )
    for heading in (-0.5, 0.5):  # nasal vessels
        away = 0.0 if side == 1 else math.pi
        _vessel_tree(draw, rng, (disc_x, disc_y), away + heading, radius * 0.35, main_width * 0.7, 2)
    vessels = ndimage.gaussian_filter(np.asarray(mask, dtype=np.float64) / 255, 0.8)
    darkening = np.array([0.30, 0.55, 0.50])
    image *= 1 - vessels[..., None] * darkening[None, None, :]

    image += rng.normal(0, 2.0, image.shape)
    image[~field] = rng.normal(3, 1.5, (int((~field).sum()), 3))
    rgb = np.clip(image, 0, 255).round().astype(np.uint8)
    if red_free:
        grey = rgb[..., 1]
        grey = np.clip(grey.astype(np.float64) * (200.0 / max(float(np.percentile(grey, 99.5)), 1)), 0, 255)
        rgb = np.repeat(grey.round().astype(np.uint8)[..., None], 3, axis=2)
    return rgb


# --- other pictures ------------------------------------------------------------------------------------------------
def skin_photo(rng, *, height: int | None = None, highlight: bool = True) -> np.ndarray:
    """A close-up colour photo of skin with a pigmented lesion, hairs and a specular highlight, uint8 RGB."""
    height = int(height or rng.integers(560, 1000))
    width = int(round(height * rng.uniform(1.0, 1.5)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    tone = np.array([rng.uniform(190, 235), rng.uniform(140, 185), rng.uniform(110, 160)])
    shading = 1.0 - 0.15 * ((xx / width - rng.uniform(0.3, 0.7)) ** 2 + (yy / height - 0.5) ** 2) * 4
    pores = 0.03 * _smooth_noise(rng, (height, width), 1.2) + 0.04 * _smooth_noise(rng, (height, width), height / 20)
    image = tone[None, None, :] * (shading + pores)[..., None]
    cx, cy = width * rng.uniform(0.35, 0.65), height * rng.uniform(0.35, 0.65)
    angle = np.arctan2(yy - cy, xx - cx)
    border = height * rng.uniform(0.08, 0.16) * (1 + 0.15 * np.sin(3 * angle + rng.uniform(0, 6)))
    lesion = np.clip((border - np.hypot(xx - cx, yy - cy)) / 6, 0, 1)
    brown = np.array([rng.uniform(70, 120), rng.uniform(40, 70), rng.uniform(25, 45)])
    image = image * (1 - lesion[..., None]) + brown[None, None, :] * lesion[..., None]
    hair = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(hair)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        heading = rng.uniform(0, 2 * math.pi)
        draw.line([(x0, y0), (x0 + 300 * math.cos(heading), y0 + 300 * math.sin(heading))], fill=255, width=2)
    image *= (1 - 0.6 * np.asarray(hair, dtype=np.float64) / 255)[..., None]
    if highlight:
        hx, hy = width * rng.uniform(0.2, 0.8), height * rng.uniform(0.2, 0.8)
        glint = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * (height * 0.03) ** 2))
        image = image + glint[..., None] * (255 - image) * 0.9
    return np.clip(image, 0, 255).round().astype(np.uint8)


WORDS = (
    "patient referral letter dear colleague thank you for seeing this report findings history examination "
    "plan follow up clinic date signed results normal review medication allergies none known"
).split()


def document(rng, *, height: int | None = None, colour: bool = False) -> np.ndarray:
    """A page of text: dark lines of words on white paper, a heading and a rule, uint8 (HxW, or RGB)."""
    height = int(height or rng.integers(600, 1400))
    width = int(round(height * rng.uniform(0.7, 0.8)))
    paper = int(rng.integers(235, 256))
    page = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(page)
    size = max(10, height // 60)
    font = ImageFont.load_default(size=size)
    margin = width // 10
    draw.text((margin, margin), "CLINIC REPORT", fill=20, font=ImageFont.load_default(size=size * 2))
    draw.line([(margin, margin + size * 3), (width - margin, margin + size * 3)], fill=40, width=2)
    y = margin + size * 4
    while y < height - margin:
        words, x = [], margin
        line = ""
        while True:
            word = str(rng.choice(WORDS))
            if x + (len(line) + len(word) + 1) * size * 0.55 > width - margin:
                break
            line = f"{line} {word}".strip()
        draw.text((margin, y), line, fill=int(rng.integers(0, 60)), font=font)
        words.append(line)
        y += int(size * 1.6)
    array = np.asarray(page, dtype=np.uint8)
    if colour:
        return np.repeat(array[..., None], 3, axis=2)
    return array


def colour_photo(rng, *, height: int | None = None) -> np.ndarray:
    """An everyday colour photo: sky, ground, a sun, a house, texture; uint8 RGB."""
    height = int(height or rng.integers(400, 900))
    width = int(round(height * rng.uniform(1.2, 1.6)))
    picture = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(picture)
    horizon = int(height * rng.uniform(0.45, 0.65))
    for row in range(horizon):
        t = row / horizon
        draw.line([(0, row), (width, row)], fill=(int(70 + 80 * t), int(130 + 70 * t), int(220 - 10 * t)))
    draw.rectangle([0, horizon, width, height], fill=(int(rng.integers(40, 90)), int(rng.integers(110, 160)), 40))
    sun = (width * rng.uniform(0.1, 0.9), height * rng.uniform(0.08, 0.25))
    draw.ellipse([sun[0] - 40, sun[1] - 40, sun[0] + 40, sun[1] + 40], fill=(255, 220, 60))
    x0 = int(width * rng.uniform(0.2, 0.6))
    draw.rectangle([x0, horizon - height // 4, x0 + width // 5, horizon + 10], fill=(180, 60, 50))
    draw.polygon(
        [
            (x0 - 10, horizon - height // 4),
            (x0 + width // 10, horizon - height // 2.6),
            (x0 + width // 5 + 10, horizon - height // 4),
        ],
        fill=(90, 40, 30),
    )
    picture = picture.filter(ImageFilter.GaussianBlur(1.0))
    array = np.asarray(picture, dtype=np.float64) + rng.normal(0, 4, (height, width, 3))
    return np.clip(array, 0, 255).round().astype(np.uint8)


def noise(rng, *, height: int | None = None, colour: bool = False) -> np.ndarray:
    """Uniform white noise, uint8 (HxW, or RGB)."""
    height = int(height or rng.integers(300, 900))
    width = int(round(height * rng.uniform(0.8, 1.25)))
    shape = (height, width, 3) if colour else (height, width)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)
