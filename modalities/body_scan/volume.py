"""Body volume from a closed surface (divergence theorem: the signed volumes of the tetrahedra from the origin to each
face, summed; trimesh's ``Trimesh.volume``), and the repair an open scan needs first.

A scan with holes (under the feet, in the armpits) has no inside: it is repaired with MeshFix (Attene, "A
lightweight approach to repairing digitized polygon meshes", The Visual Computer 2010;26:1393; the pymeshfix
binding), which fills holes and removes self-intersections, and the volume is then flagged as measured after
repair. MeshFix keeps the largest connected part only: a repair that leaves out more than 2 % of the surface, or
that still leaves the mesh open, is refused with its reason rather than reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

REPAIR_AREA_LOSS = 0.02


@dataclass(frozen=True)
class Volume:
    litres: float | None
    repaired: bool
    reason: str = ""


def measure(mesh: trimesh.Trimesh) -> Volume:
    if mesh.is_watertight and mesh.is_winding_consistent:
        return Volume(litres=abs(float(mesh.volume)) * 1000, repaired=False)
    try:
        import pymeshfix
    except ImportError:  # pragma: no cover - pinned in requirements; kept for a trimmed install
        return Volume(None, False, "the mesh is open (not watertight) and no repair tool is installed.")
    fixer = pymeshfix.MeshFix(np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int32))
    fixer.repair()
    repaired = trimesh.Trimesh(vertices=fixer.points, faces=fixer.faces, process=True)
    if len(repaired.faces) == 0 or not repaired.is_watertight:
        return Volume(None, False, "the mesh is open or non-manifold and could not be closed by repair.")
    if repaired.area < mesh.area * (1 - REPAIR_AREA_LOSS):
        share = 1 - repaired.area / mesh.area
        return Volume(
            None, False, f"the mesh is open and its repair would leave out {share:.0%} of the surface (separate parts)."
        )
    return Volume(litres=abs(float(repaired.volume)) * 1000, repaired=True)
