"""The files a body-scan result keeps (``modalities.results.Artifact``): the normalised mesh, the viewer's model with
the measurement slices drawn on it, the slices picture (``picture``) and the measurements as JSON.

GLB files are in glTF's frame: metres, +Y up, the floor at y = 0 and the floor footprint centred on the origin
(glTF 2.0, 3.4). The normalised mesh carries no colours or textures unless the request asked to keep them
(``keep_texture``): a textured scan shows the face and skin. No names or identifiers are written (trimesh writes
its generator string and the geometry only).
"""

from __future__ import annotations

import json

import numpy as np
import trimesh

from ..results import Artifact

# glTF frame from the normalised one (x, y, z up) -> (x, z, -y): a rotation, not a mirror.
TO_GLTF = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=float)
RING_RADIUS_M = 0.004
RING_SIDES = 8
COLOURS = {"waist": (214, 40, 40, 255), "hip": (30, 100, 200, 255), "narrowest": (240, 160, 0, 255)}


def model_glb(mesh: trimesh.Trimesh) -> bytes:
    return _scene({"body": mesh}).export(file_type="glb")


def viewer_glb(mesh: trimesh.Trimesh, rings: dict[str, tuple[np.ndarray, float]]) -> bytes:
    """The body (untextured) with each named slice drawn as a thin tube along its hull: nodes "body", "waist", "hip"."""
    plain = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False, validate=False)
    plain.visual = _material((200, 200, 200, 255))
    geometry = {"body": plain}
    for name, (outline, height) in rings.items():
        tube = ring(outline, height)
        tube.visual = _material(COLOURS[name])
        geometry[name] = tube
    return _scene(geometry).export(file_type="glb")


def data_json(document: dict) -> bytes:
    return json.dumps(document, indent=2, sort_keys=True).encode()


def artifacts(*, model: bytes, viewer: bytes, image: bytes, data: bytes) -> list[Artifact]:
    return [
        Artifact("body-scan-model.glb", "model", "model/gltf-binary", model, "Normalised, de-identified body mesh"),
        Artifact("body-scan-viewer.glb", "viewer", "model/gltf-binary", viewer, "Body with waist and hip slices"),
        Artifact("body-scan-slices.png", "image", "image/png", image, "Measurement slices"),
        Artifact("body-scan-measurements.json", "data", "application/json", data, "Measurements, methods, heights"),
    ]


def ring(outline: np.ndarray, height: float) -> trimesh.Trimesh:
    """A closed tube of radius RING_RADIUS_M along a closed horizontal outline ((n, 2) points, not repeated) at
    ``height``: a ring of RING_SIDES vertices around each outline point, in the plane of the outline's normal and
    the vertical, joined to the next ring by quads."""
    points = np.asarray(outline, dtype=float)
    count = len(points)
    tangent = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-12
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    angles = np.linspace(0, 2 * np.pi, RING_SIDES, endpoint=False)
    radial = np.cos(angles)[None, :, None] * np.column_stack([normal, np.zeros(count)])[:, None, :]
    vertical = np.sin(angles)[None, :, None] * np.array([0.0, 0.0, 1.0])[None, None, :]
    centres = np.column_stack([points, np.full(count, height)])[:, None, :]
    vertices = (centres + RING_RADIUS_M * (radial + vertical)).reshape(-1, 3)
    faces = []
    for i in range(count):
        j = (i + 1) % count
        for k in range(RING_SIDES):
            m = (k + 1) % RING_SIDES
            a, b, c, d = i * RING_SIDES + k, i * RING_SIDES + m, j * RING_SIDES + m, j * RING_SIDES + k
            faces += [(a, b, c), (a, c, d)]
    return trimesh.Trimesh(vertices=vertices, faces=np.array(faces), process=False)


def _material(rgba) -> trimesh.visual.TextureVisuals:
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=rgba, metallicFactor=0.0, roughnessFactor=0.9)
    return trimesh.visual.TextureVisuals(material=material)


def _scene(geometry: dict[str, trimesh.Trimesh]) -> trimesh.Scene:
    scene = trimesh.Scene()
    for name, mesh in geometry.items():
        scene.add_geometry(mesh, node_name=name, geom_name=name, transform=TO_GLTF)
    return scene
