"""Generated fundus-like photos for the demo, the benchmark and the truth tests of the measures.

Never imported on the worker's path (only ``modalities.registry.demo_cases`` imports it). The photos are not of
anyone: a dark-orange circular field, a bright disc, optional fovea, and vessels drawn with exact, anti-aliased
coverage so that their area and arc/chord ratio are known. An input check tuned on these photos would only know
this generator: the tests of the input checks use ``modalities/tests/generated_images.py`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import imaging
from ..base import DemoCase


@dataclass
class SyntheticFundus:
    rgb: Any  # uint8 HxWx3
    coverage: Any  # float HxW in 0..1: how much of each pixel the drawn vessels cover (the area truth)
    field: Any  # bool HxW
    disc_centre: tuple[float, float]  # (x, y) px
    disc_radius: float
    field_radius: float


def vessel_path(*control_points, amplitude: float = 0.0, wavelength: float = 100.0, step: float = 0.25):
    """(x, y) points every ``step`` px along a straight line (2 points) or a quadratic Bezier curve (3),
    displaced along its normal by ``amplitude * sin(2 pi s / wavelength)`` where s is the arc length."""
    import numpy as np

    p = np.asarray(control_points, dtype=np.float64)
    t = np.linspace(0.0, 1.0, 4096)[:, None]
    if len(p) == 2:
        curve = (1 - t) * p[0] + t * p[1]
    elif len(p) == 3:
        curve = (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t**2 * p[2]
    else:
        raise ValueError("a vessel path takes 2 or 3 control points")
    lengths = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(curve, axis=0).T))])
    s = np.arange(0.0, lengths[-1], step)
    points = np.stack([np.interp(s, lengths, curve[:, 0]), np.interp(s, lengths, curve[:, 1])], axis=1)
    if amplitude:
        tangent = np.gradient(points, axis=0)
        tangent /= np.maximum(np.hypot(*tangent.T)[:, None], 1e-12)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        points = points + (amplitude * np.sin(2 * np.pi * s / wavelength))[:, None] * normal
    return points


def synthetic_fundus(
    size: int = 1024,
    vessels=(),
    *,
    disc: tuple[float, float] = (0.70, 0.48),
    fovea: tuple[float, float] | None = None,
    vessel_contrast: tuple[float, float, float] = (0.15, 0.50, 0.45),
    noise: float = 1.5,
    seed: int = 0,
) -> SyntheticFundus:
    """A fundus-like photo: a dark-orange circular field (radius 0.46 size) with vignetting, a bright optic
    disc (radius 0.07 size) at ``disc`` (fractions of the size), an optional darker fovea, and ``vessels``
    = [(points, width_px)] drawn with exact, anti-aliased coverage (1 inside width/2 of the centreline,
    a linear 1 px edge) that darkens each channel by ``vessel_contrast``; then a 0.8 px optical blur and
    Gaussian noise. The coverage map is returned as the truth of the vessel area."""
    import numpy as np
    from scipy import ndimage
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre, field_radius = size / 2, 0.46 * size
    r2 = ((xx - centre) ** 2 + (yy - centre) ** 2) / field_radius**2
    field = r2 <= 1.0
    image = np.array([205, 95, 40], np.float32)[None, None, :] * (1.0 - 0.35 * r2)[..., None]
    if fovea is not None:
        fx, fy = fovea[0] * size, fovea[1] * size
        dip = 0.25 * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * (0.05 * size) ** 2))
        image *= (1.0 - dip)[..., None]
    dx, dy, disc_radius = disc[0] * size, disc[1] * size, 0.07 * size
    edge = np.clip((np.hypot(xx - dx, yy - dy) - disc_radius) / (0.01 * size), -30, 30)
    weight = (1.0 / (1.0 + np.exp(edge)))[..., None]
    image = image * (1 - weight) + np.array([245, 215, 150], np.float32) * weight
    coverage = np.zeros((size, size), np.float32)
    for points, width in vessels:
        points = np.asarray(points, dtype=np.float64)
        band = width / 2 + 1.0
        x0, y0 = np.maximum(np.floor(points.min(axis=0) - band).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(points.max(axis=0) + band).astype(int), size - 1)
        if x1 < x0 or y1 < y0:
            continue
        raster = np.ones((y1 - y0 + 1, x1 - x0 + 1), bool)
        cols = np.clip(np.round(points[:, 0]).astype(int) - x0, 0, x1 - x0)
        rows = np.clip(np.round(points[:, 1]).astype(int) - y0, 0, y1 - y0)
        raster[rows, cols] = False
        near = ndimage.distance_transform_edt(raster) <= band + 1
        ry, rx = np.nonzero(near)
        distance, _ = cKDTree(points).query(np.stack([rx + x0, ry + y0], axis=1), distance_upper_bound=band)
        cover = np.clip(width / 2 + 0.5 - np.nan_to_num(distance, posinf=band), 0.0, 1.0).astype(np.float32)
        coverage[ry + y0, rx + x0] = np.maximum(coverage[ry + y0, rx + x0], cover)
    coverage[~field] = 0.0
    image *= 1.0 - coverage[..., None] * np.asarray(vessel_contrast, np.float32)[None, None, :]
    image = ndimage.gaussian_filter(image, (0.8, 0.8, 0))
    image += rng.normal(0.0, noise, image.shape).astype(np.float32)
    image[~field] = rng.normal(2.0, 1.0, (int((~field).sum()), 3))
    return SyntheticFundus(
        rgb=np.clip(image, 0, 255).round().astype(np.uint8),
        coverage=coverage,
        field=field,
        disc_centre=(dx, dy),
        disc_radius=disc_radius,
        field_radius=field_radius,
    )


def demo_vessel_tree(
    size: int = 1024,
    *,
    amplitude: float = 0.0,
    branches: int = 3,
    width_scale: float = 1.0,
    disc: tuple[float, float] = (0.70, 0.48),
    seed: int = 0,
) -> list:
    """A plausible vessel tree for demo photos: four arcades around the macula and two nasal vessels from
    the disc, each with ``branches`` side branches; ``amplitude`` (fraction of the size) adds a sinusoidal
    meander (tortuosity)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    s = size / 1024
    dx, dy = disc[0] * size, disc[1] * size
    wave = 0.07 * size
    arcades = [
        ((dx, dy), (dx - 0.10 * size, dy - 0.42 * size), (0.12 * size, dy - 0.30 * size), 12),
        ((dx, dy), (dx - 0.16 * size, dy - 0.36 * size), (0.14 * size, dy - 0.16 * size), 9),
        ((dx, dy), (dx - 0.10 * size, dy + 0.42 * size), (0.12 * size, dy + 0.30 * size), 12),
        ((dx, dy), (dx - 0.16 * size, dy + 0.36 * size), (0.14 * size, dy + 0.17 * size), 9),
        ((dx, dy), (dx + 0.10 * size, dy - 0.25 * size), (0.90 * size, dy - 0.30 * size), 8),
        ((dx, dy), (dx + 0.12 * size, dy + 0.22 * size), (0.90 * size, dy + 0.28 * size), 8),
    ]
    vessels = []
    for p0, p1, p2, width in arcades:
        main = vessel_path(p0, p1, p2, amplitude=amplitude * size, wavelength=wave)
        vessels.append((main, width * s * width_scale))
        for _ in range(branches):
            at = main[int(rng.uniform(0.25, 0.85) * (len(main) - 1))]
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.10, 0.22) * size
            end = at + length * np.array([np.cos(angle), np.sin(angle)])
            bend = (at + end) / 2 + rng.normal(0, 0.03 * size, 2)
            branch = vessel_path(at, bend, end, amplitude=amplitude * size * 0.8, wavelength=wave * 0.8)
            vessels.append((branch, rng.uniform(3.5, 6.0) * s * width_scale))
    return vessels


def _png(rgb) -> bytes:
    return imaging.encode_png(rgb, compress_level=6)


def demo_cases(size: int = 1024) -> list[DemoCase]:
    """Three demo photos: a typical tree, a tortuous one, a sparse one."""
    cases = [
        ("fundus-typical.png", demo_vessel_tree(size, branches=6, seed=1), 11),
        ("fundus-tortuous.png", demo_vessel_tree(size, branches=6, amplitude=0.014, seed=2), 12),
        ("fundus-sparse.png", demo_vessel_tree(size, branches=1, width_scale=0.6, seed=3), 13),
    ]
    return [
        DemoCase(files=[(name, _png(synthetic_fundus(size, vessels, fovea=(0.36, 0.50), seed=seed).rgb))])
        for name, vessels, seed in cases
    ]
