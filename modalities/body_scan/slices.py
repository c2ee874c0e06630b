"""Horizontal sections of the normalised body and the trunk's loop in each.

A section is the mesh cut by the plane z = h (trimesh.intersections.mesh_multiplane: one pass over the faces for
all heights). Its segments are joined into closed loops (trimesh's path code, which merges the shared end points)
and the loops merged into regions with shapely (``unary_union``): parts that overlap or touch (an arm resting on the
trunk, scan shells that intersect) become one region, as they are one outline to a tape.

The trunk's loop, not the arms (Method):

1. Keep the region that contains the body axis (the vertical through the centroid of the trunk band's surface,
   where the arms on both sides balance out). No region there: no trunk at this height (below the crotch).
2. Cut away what is fused to it by a morphological opening (erosion then dilation) with a disc of radius
   ``ARM_OPENING_RADIUS_M``: a part narrower than the disc's diameter (a forearm or elbow, 6-9 cm thick, a hand
   3 cm) cannot hold the disc and is removed; the trunk (a waist is 17-26 cm deep and 25-35 cm wide, its sides
   curving with radii above 5 cm) is unchanged. The opened region is intersected with the original, so nothing is
   added.
3. The perimeter reported is the length of the convex hull of that trunk region: what a tape laid around the
   trunk measures, bridging the navel and the spine's groove, and robust to scan noise.

Limit: an arm pressed into the trunk over a width larger than the disc (arms held tight against a soft waist)
cannot be told apart from the trunk; the waist is then over-estimated. Scan with the arms held a little away from
the body (the usual A pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import trimesh
from shapely.geometry import MultiPolygon, Point, Polygon

ARM_OPENING_RADIUS_M = 0.05


@dataclass(frozen=True)
class TrunkSlice:
    height_m: float
    trunk: Polygon  # the trunk's region, normalised frame (x, y)
    hull: Polygon
    other_parts: int  # regions left out (arms, hands, legs) and fused parts cut away

    @property
    def perimeter_m(self) -> float:
        return float(self.hull.exterior.length)


def body_axis(mesh: trimesh.Trimesh, low: float, high: float) -> np.ndarray:
    """(x, y) of the area-weighted centroid of the faces between heights ``low`` and ``high``."""
    centres = mesh.triangles_center
    inside = (centres[:, 2] >= low) & (centres[:, 2] <= high)
    if not inside.any():
        return np.zeros(2)
    return np.average(centres[inside, :2], axis=0, weights=mesh.area_faces[inside] + 1e-12)


def regions(mesh: trimesh.Trimesh, heights: np.ndarray) -> list[list[Polygon]]:
    """The merged regions of the section at each height (an empty list where the plane misses the mesh)."""
    lines, to_3d, _ = trimesh.intersections.mesh_multiplane(mesh, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], heights)
    out = []
    for segments, transform in zip(lines, to_3d, strict=True):
        if len(segments) == 0:
            out.append([])
            continue
        flat = np.column_stack([segments.reshape(-1, 2), np.zeros(len(segments) * 2), np.ones(len(segments) * 2)])
        xy = (flat @ np.asarray(transform).T)[:, :2].reshape(-1, 2, 2)
        out.append(_merge(xy))
    return out


def _merge(segments: np.ndarray) -> list[Polygon]:
    path = trimesh.load_path(segments)
    loops = [polygon for polygon in path.polygons_closed if polygon is not None and polygon.area > 0]
    if not loops:
        return []
    merged = shapely.unary_union([shapely.make_valid(loop) for loop in loops])
    return _polygons(merged)


def _polygons(geometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty else []
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    if hasattr(geometry, "geoms"):
        return [part for item in geometry.geoms for part in _polygons(item)]
    return []


def trunk(parts: list[Polygon], axis: np.ndarray, height: float) -> TrunkSlice | None:
    point = Point(float(axis[0]), float(axis[1]))
    containing = [part for part in parts if part.contains(point)]
    if not containing:
        return None
    region = containing[0]
    opened = _polygons(region.buffer(-ARM_OPENING_RADIUS_M))
    core = [part for part in opened if part.contains(point)] or sorted(opened, key=lambda p: -p.area)[:1]
    if not core:
        return None
    kept = core[0].buffer(ARM_OPENING_RADIUS_M).intersection(region)
    pieces = sorted(_polygons(kept), key=lambda p: -p.area)
    if not pieces:
        return None
    body = pieces[0]
    cut = len(parts) - 1 + (1 if body.area < region.area * 0.995 else 0)
    return TrunkSlice(height_m=float(height), trunk=body, hull=body.convex_hull, other_parts=cut)
