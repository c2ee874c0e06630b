"""The slices picture (PNG): on the left the body's front silhouette with the heights of the waist, narrowest and hip
slices; on the right each slice seen from above, the section's regions in grey, the trunk kept in a light tint and
its convex hull (what is measured) in the slice's colour. Also the viewer's still fallback.

The silhouette is drawn from points sampled evenly over the surface (trimesh ``sample_surface``, 80,000 points)
projected on the frontal plane, closed and filled: no rendering library, no GPU.
"""

from __future__ import annotations

import io

import numpy as np
import trimesh
from PIL import Image, ImageDraw
from scipy import ndimage

from .slices import TrunkSlice

WIDTH, HEIGHT = 960, 640
MARGIN = 30
SILHOUETTE_WIDTH = 380
SAMPLES = 80_000
INK, BODY, TRUNK = (33, 37, 41), (190, 196, 204), (236, 240, 245)
COLOURS = {"waist": (214, 40, 40), "narrowest": (240, 160, 0), "hip": (30, 100, 200)}


def slices_png(mesh: trimesh.Trimesh, height_m: float, named: dict[str, TrunkSlice], labels: dict[str, str]) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    scale = (HEIGHT - 2 * MARGIN) / height_m
    _silhouette(image, mesh, scale)
    for name, item in named.items():
        y = HEIGHT - MARGIN - item.height_m * scale
        draw.line([(MARGIN, y), (MARGIN + SILHOUETTE_WIDTH, y)], fill=COLOURS[name], width=2)
    _sections(draw, named, labels)
    draw.text((MARGIN, 8), f"Front silhouette, standing height {height_m * 100:.1f} cm", fill=INK)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _silhouette(image: Image.Image, mesh: trimesh.Trimesh, scale: float) -> None:
    points, _ = trimesh.sample.sample_surface(mesh, SAMPLES, seed=0)
    columns = np.round(points[:, 0] * scale + MARGIN + SILHOUETTE_WIDTH / 2).astype(int)
    rows = np.round(HEIGHT - MARGIN - points[:, 2] * scale).astype(int)
    mask = np.zeros((HEIGHT, MARGIN * 2 + SILHOUETTE_WIDTH), dtype=bool)
    inside = (rows >= 0) & (rows < mask.shape[0]) & (columns >= 0) & (columns < mask.shape[1])
    mask[rows[inside], columns[inside]] = True
    mask = ndimage.binary_fill_holes(ndimage.binary_closing(mask, iterations=2))
    pixels = np.asarray(image).copy()
    pixels[: mask.shape[0], : mask.shape[1]][mask] = BODY
    image.paste(Image.fromarray(pixels))


def _sections(draw: ImageDraw.ImageDraw, named: dict[str, TrunkSlice], labels: dict[str, str]) -> None:
    left = MARGIN * 2 + SILHOUETTE_WIDTH + 20
    panel = (HEIGHT - 2 * MARGIN) // max(len(named), 1)
    widest = max(max(item.hull.bounds[2] - item.hull.bounds[0], item.hull.bounds[3] - item.hull.bounds[1])
                 for item in named.values())
    scale = (panel - 40) / max(widest, 1e-6)
    for index, (name, item) in enumerate(named.items()):
        top = MARGIN + index * panel
        centre = (left + 150, top + 20 + (panel - 40) / 2)
        draw.text((left, top), labels.get(name, name), fill=COLOURS[name])
        middle = (item.hull.centroid.x, item.hull.centroid.y)
        _polygon(draw, item.trunk.exterior.coords, middle, centre, scale, fill=TRUNK, outline=BODY)
        _polygon(draw, item.hull.exterior.coords, middle, centre, scale, fill=None, outline=COLOURS[name])


def _polygon(draw, coords, middle, centre, scale, *, fill, outline) -> None:
    # Seen from above, centred on the hull's centroid.
    points = [(centre[0] + (x - middle[0]) * scale, centre[1] + (y - middle[1]) * scale) for x, y in coords]
    draw.polygon(points, fill=fill, outline=outline, width=2)
