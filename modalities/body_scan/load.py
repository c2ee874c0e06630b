"""Reading a mesh with trimesh, given the format ``detect`` found, and putting it upright, in metres, centred.

Normalised frame (the one every measurement uses): metres; +Z up with the floor (the lowest point) at z = 0; x the
body's widest horizontal direction (left-right), y front-back; x = y = 0 at the centre of the floor footprint. The
mesh artifact is written in glTF's own frame (+Y up) from it (``artifacts``).

Up direction: glTF is +Y up by specification (glTF 2.0, 3.4 "Coordinate System and Units"). PLY, OBJ and STL carry no
convention; the ``up_axis`` input names it, or ``auto`` takes the longest extent of the mesh as vertical (a standing
person is taller than wide with arms down or in an A pose) and puts the feet down: of the two ends, the one whose
lowest 5 % of height covers the larger floor area is the feet (two feet ~ 0.08 m^2, the crown of the head ~ 0.02 m^2).
A named axis is taken as it is, pointing up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import trimesh

from .deidentify import glb_geometry_only
from .detect import GLB
from .volume import closed

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
# A standing person measured by a body scanner: 0.5 m (a small child) to 2.6 m (beyond the tallest recorded
# adult). Outside it the units are wrong or it is not a person.
MIN_HEIGHT_M, MAX_HEIGHT_M = 0.5, 2.6
END_FRACTION = 0.05


class MeshUnusable(ValueError):
    """The file parsed, but it is not a measurable body surface; the message says why."""


@dataclass
class Body:
    mesh: trimesh.Trimesh
    height_m: float
    source_format: str
    up: str
    scale: float
    kept_texture: bool
    closed: bool  # volume.closed(faces), worked out once while loading


def load(data: bytes, fmt: str, *, units: str = "m", up_axis: str = "auto", keep_texture: bool = False) -> Body:
    if fmt == GLB and not keep_texture:
        data = glb_geometry_only(data)
    mesh, is_closed = _parse(data, fmt)
    scale = 1.0 if fmt == GLB else UNITS[units]
    vertices = np.asarray(mesh.vertices, dtype=np.float64) * scale
    if not np.isfinite(vertices).all():
        raise MeshUnusable("the mesh has vertices at infinite or undefined positions.")
    up = "y" if fmt == GLB and up_axis == "auto" else up_axis
    vertices, up = _upright(vertices, np.asarray(mesh.faces), up)
    height = float(vertices[:, 2].max())
    if not MIN_HEIGHT_M <= height <= MAX_HEIGHT_M:
        raise MeshUnusable(
            f"the scanned figure would be {_length(height)} tall; a standing person is "
            f"{MIN_HEIGHT_M}-{MAX_HEIGHT_M} m. Check the units input (m, cm or mm) or the file."
        )
    keep = keep_texture and mesh.visual is not None and mesh.visual.defined
    normalised = trimesh.Trimesh(
        vertices=vertices, faces=mesh.faces, visual=mesh.visual if keep else None, process=False, validate=False
    )
    return Body(
        mesh=normalised,
        height_m=height,
        source_format=fmt,
        up=up,
        scale=scale,
        kept_texture=bool(keep),
        closed=is_closed,
    )


def _parse(data: bytes, fmt: str) -> tuple[trimesh.Trimesh, bool]:
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=fmt, force="mesh", process=False)
    except Exception as error:  # noqa: BLE001 - a parser's failure on a bad file, whatever its type, is a refusal
        raise MeshUnusable(f"the {fmt.upper()} file cannot be read as a mesh ({type(error).__name__}).") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise MeshUnusable("it has no faces (a point cloud or an empty mesh): a body surface is needed to measure.")
    if loaded.vertices.shape[0] < 4:
        raise MeshUnusable("the mesh has fewer than four vertices.")
    if closed(loaded.faces):
        return loaded, True
    # STL repeats each corner per face; GLB and OBJ split vertices at texture seams: join equal positions (a PLY
    # or GLB that is already closed skips this pass).
    loaded.merge_vertices(merge_tex=True, merge_norm=True)
    loaded.update_faces(loaded.nondegenerate_faces())
    loaded.remove_unreferenced_vertices()
    return loaded, closed(loaded.faces)


def _length(metres: float) -> str:
    if metres >= 10:
        return f"{metres:,.0f} m"
    if metres < 0.05:
        return f"{metres * 1000:.1f} mm"
    return f"{metres:.2f} m"


def _upright(vertices: np.ndarray, faces: np.ndarray, up: str) -> tuple[np.ndarray, str]:
    extents = vertices.max(axis=0) - vertices.min(axis=0)
    guess = up == "auto"
    if guess:
        up = "xyz"[int(np.argmax(extents))]
    axis = "xyz".index(up)
    others = [i for i in range(3) if i != axis]
    turned = vertices[:, [*others, axis]].copy()
    if axis == 1:  # glTF +Y up, +Z towards the viewer: a right-handed turn keeps the mesh unmirrored
        turned = np.column_stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]])
    turned[:, 2] -= turned[:, 2].min()
    if guess and feet_on_top(turned):
        turned[:, 2] = turned[:, 2].max() - turned[:, 2]
        turned[:, 1] = -turned[:, 1]
    return _centre(_face_sideways(turned)), up


def feet_on_top(vertices: np.ndarray) -> bool:
    """True when the top end, not the bottom, looks like the feet (see the module's docstring)."""
    z = vertices[:, 2]
    top = z.max()
    band = END_FRACTION * top
    return _footprint(vertices[z >= top - band]) > _footprint(vertices[z <= band])


def _footprint(points: np.ndarray) -> float:
    if len(points) < 3:
        return 0.0
    span = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(span[0] * span[1])


def _face_sideways(vertices: np.ndarray) -> np.ndarray:
    """Turn about the vertical so that x is the widest horizontal direction (principal axis of the footprint)."""
    horizontal = vertices[:, :2] - vertices[:, :2].mean(axis=0)
    sample = horizontal[:: max(1, len(horizontal) // 200_000)]
    _, vectors = np.linalg.eigh(np.cov(sample.T))
    lateral = vectors[:, -1]
    rotation = np.array([[lateral[0], lateral[1]], [-lateral[1], lateral[0]]])
    out = vertices.copy()
    out[:, :2] = vertices[:, :2] @ rotation.T
    return out


def _centre(vertices: np.ndarray) -> np.ndarray:
    low, high = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
    vertices[:, :2] -= (low + high) / 2
    return vertices
