"""Shapes with known answers, built here from trimesh primitives (not from ``synthetic``): an elliptic trunk on two
legs with a head, arms that touch the trunk, and the exact perimeter of an ellipse to compare with."""

from __future__ import annotations

import math

import numpy as np
import trimesh

TRUNK_A, TRUNK_B = 0.16, 0.11  # semi-axes (m): 32 cm wide, 22 cm deep
TRUNK_BOTTOM, TRUNK_TOP = 0.80, 1.45
ARM_RADIUS = 0.04
HEAD_RADIUS, HEAD_CENTRE = 0.11, 1.58
HEIGHT = HEAD_CENTRE + HEAD_RADIUS


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation (error below 1e-9 relative for these axes)."""
    h = (a - b) ** 2 / (a + b) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


def polygon_perimeter(a: float, b: float, sides: int) -> float:
    """The perimeter of the inscribed polygon trimesh makes of an ellipse with ``sides`` vertices."""
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    points = np.column_stack([a * np.cos(angles), b * np.sin(angles)])
    return float(np.linalg.norm(np.roll(points, -1, axis=0) - points, axis=1).sum())


def elliptic_cylinder(a, b, bottom, top, x=0.0, y=0.0, sections=256) -> trimesh.Trimesh:
    mesh = trimesh.creation.cylinder(radius=1.0, height=top - bottom, sections=sections)
    mesh.apply_scale([a, b, 1.0])
    mesh.apply_translation([x, y, (bottom + top) / 2])
    return mesh


def body(*, arms_touching: bool = True, arm_overlap: float = 0.005) -> trimesh.Trimesh:
    """A standing figure: an elliptic trunk (semi-axes TRUNK_A x TRUNK_B, constant, from 0.80 to 1.45 m), two legs,
    a head, and two arms hanging beside the trunk from 0.85 to 1.40 m: overlapping its sides by ``arm_overlap``
    when touching, 6 cm away otherwise."""
    parts = [elliptic_cylinder(TRUNK_A, TRUNK_B, TRUNK_BOTTOM, TRUNK_TOP)]
    parts += [elliptic_cylinder(0.07, 0.07, 0.0, 0.82, x=side * 0.08, sections=64) for side in (-1, 1)]
    head = trimesh.creation.icosphere(subdivisions=3, radius=HEAD_RADIUS)
    head.apply_translation([0, 0, HEAD_CENTRE])
    parts.append(head)
    gap = -arm_overlap if arms_touching else 0.06
    for side in (-1, 1):
        parts.append(elliptic_cylinder(ARM_RADIUS, ARM_RADIUS, 0.85, 1.40, x=side * (TRUNK_A + ARM_RADIUS + gap),
                                       sections=64))
    return trimesh.util.concatenate(parts)
