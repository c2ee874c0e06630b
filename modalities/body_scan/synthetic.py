"""Generated standing bodies for the demo and the benchmark (never imported by the worker): a parametric figure made
with trimesh of lofted elliptic sections, a trunk whose width and depth vary with height (hips, waist, chest,
shoulders), two legs with feet, two arms in an A pose that may touch the trunk at waist level, a neck and a head.
Each part is a closed surface, so the whole is watertight (parts overlap where they join, as a scan's shells may).

Proportions follow the segment lengths as fractions of stature of Drillis & Contini (1966), as tabulated in Winter,
Biomechanics and Motor Control of Human Movement (4th ed. 2009, fig. 4.1): shoulder 0.818, chest 0.720, hip
(greater trochanter) 0.530, knee 0.285, ankle 0.039.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from ..base import DemoCase


@dataclass(frozen=True)
class Figure:
    height_m: float = 1.75
    waist_width_m: float = 0.30  # at the WHO site
    waist_depth_m: float = 0.22
    hip_width_m: float = 0.35
    hip_depth_m: float = 0.25
    chest_width_m: float = 0.33
    chest_depth_m: float = 0.24
    arms_touching: bool = False
    sections: int = 96  # vertices around each ring
    rings_per_metre: int = 60


def body(figure: Figure = Figure()) -> trimesh.Trimesh:
    h = figure.height_m
    parts = [_trunk(figure), *_legs(figure), *_arms(figure)]
    neck = _loft([0.80 * h, 0.87 * h], [0.055, 0.055], [0.055, 0.055], figure)
    head = trimesh.creation.icosphere(subdivisions=4, radius=0.065 * h)
    head.apply_scale([0.85, 1.0, 1.15])
    head.apply_translation([0, 0, h - 0.075 * h])
    return trimesh.util.concatenate([*parts, neck, head])


def _trunk(f: Figure) -> trimesh.Trimesh:
    h = f.height_m
    heights = np.array([0.47, 0.53, 0.58, 0.624, 0.68, 0.72, 0.78, 0.82]) * h
    widths = np.array([f.hip_width_m * 0.92, f.hip_width_m, f.hip_width_m * 0.93, f.waist_width_m,
                       (f.waist_width_m + f.chest_width_m) / 2, f.chest_width_m, f.chest_width_m * 1.08,
                       f.chest_width_m * 0.9])  # fmt: skip
    depths = np.array([f.hip_depth_m * 0.9, f.hip_depth_m, f.hip_depth_m * 0.94, f.waist_depth_m,
                       (f.waist_depth_m + f.chest_depth_m) / 2, f.chest_depth_m, f.chest_depth_m * 0.95,
                       f.chest_depth_m * 0.7])  # fmt: skip
    return _loft(heights, widths / 2, depths / 2, f)


def _legs(f: Figure) -> list[trimesh.Trimesh]:
    h = f.height_m
    parts = []
    for side in (-1, 1):
        heights = np.array([0.035, 0.285, 0.40, 0.50]) * h
        radii = np.array([0.035, 0.05, 0.07, 0.085]) * h / 1.75
        x = side * (f.hip_width_m / 4 + 0.01)
        parts.append(_loft(heights, radii, radii, f, centre_x=np.full(4, x)))
        foot = trimesh.creation.box(extents=[0.09 * h / 1.75, 0.26 * h / 1.75, 0.05 * h])
        foot.apply_translation([x, -0.05, 0.025 * h])
        parts.append(foot)
    return parts


def _arms(f: Figure) -> list[trimesh.Trimesh]:
    h = f.height_m
    heights = np.array([0.42, 0.485, 0.58, 0.63, 0.70, 0.80]) * h
    radii = np.array([0.03, 0.027, 0.035, 0.04, 0.045, 0.05]) * h / 1.75
    parts = []
    for side in (-1, 1):
        shoulder = f.chest_width_m / 2 + 0.02
        if f.arms_touching:  # the elbow rests on the waist: its inner side overlaps the trunk by 5 mm
            elbow = f.waist_width_m / 2 + radii[3] - 0.005
        else:
            elbow = f.waist_width_m / 2 + radii[3] + 0.06
        x = np.array([elbow + 0.09, elbow + 0.06, elbow + 0.01, elbow, shoulder + 0.03, shoulder])
        parts.append(_loft(heights, radii, radii, f, centre_x=side * x))
    return parts


def _loft(heights, half_widths, half_depths, f: Figure, centre_x=None) -> trimesh.Trimesh:
    """A closed surface through elliptic rings at ``heights`` (smoothly interpolated), capped at both ends."""
    heights = np.asarray(heights, dtype=float)
    rings = max(int((heights[-1] - heights[0]) * f.rings_per_metre), 2)
    z = np.linspace(heights[0], heights[-1], rings)
    a = np.interp(z, heights, half_widths)
    b = np.interp(z, heights, half_depths)
    cx = np.interp(z, heights, centre_x) if centre_x is not None else np.zeros(rings)
    angles = np.linspace(0, 2 * np.pi, f.sections, endpoint=False)
    ring_x = cx[:, None] + a[:, None] * np.cos(angles)[None, :]
    ring_y = b[:, None] * np.sin(angles)[None, :]
    vertices = np.column_stack([ring_x.ravel(), ring_y.ravel(), np.repeat(z, f.sections)])
    n = f.sections
    i = np.arange(rings - 1)[:, None] * n
    k = np.arange(n)[None, :]
    k1 = (k + 1) % n
    quads_a = np.stack([i + k, i + k1, i + n + k1], axis=-1).reshape(-1, 3)
    quads_b = np.stack([i + k, i + n + k1, i + n + k], axis=-1).reshape(-1, 3)
    bottom, top = len(vertices), len(vertices) + 1
    centres = np.array([[cx[0], 0, z[0]], [cx[-1], 0, z[-1]]])
    last = (rings - 1) * n
    caps = np.concatenate([
        np.column_stack([np.full(n, bottom), k1.ravel(), k.ravel()]),
        np.column_stack([np.full(n, top), last + k.ravel(), last + k1.ravel()]),
    ])  # fmt: skip
    faces = np.concatenate([quads_a, quads_b, caps])
    mesh = trimesh.Trimesh(vertices=np.vstack([vertices, centres]), faces=faces, process=False)
    mesh.fix_normals()
    return mesh


def demo_cases() -> list[DemoCase]:
    slim = Figure(height_m=1.64, waist_width_m=0.26, waist_depth_m=0.18, hip_width_m=0.34, hip_depth_m=0.24,
                  chest_width_m=0.30, chest_depth_m=0.22)  # fmt: skip
    central = Figure(height_m=1.78, waist_width_m=0.36, waist_depth_m=0.30, hip_width_m=0.36, hip_depth_m=0.27,
                     chest_width_m=0.37, chest_depth_m=0.28, arms_touching=True)  # fmt: skip
    average = Figure()
    millimetres = body(slim)
    millimetres.apply_scale(1000)
    return [
        DemoCase(inputs={"units": "mm"}, files=[("scan.ply", millimetres.export(file_type="ply"))]),
        DemoCase(inputs={}, files=[("scan.glb", _glb(body(central)))]),
        DemoCase(inputs={"units": "m", "up_axis": "z"}, files=[("scan.stl", body(average).export(file_type="stl"))]),
    ]


def sample_glb() -> bytes:
    """The modality chooser's sample (assessments.samples): a coarse figure, small enough to ship (~200 kB)."""
    return _glb(body(Figure(sections=40, rings_per_metre=24)))


def _glb(mesh: trimesh.Trimesh) -> bytes:
    """glTF is +Y up: the figure (+Z up) turned accordingly."""
    turned = mesh.copy()
    turned.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    return turned.export(file_type="glb")
