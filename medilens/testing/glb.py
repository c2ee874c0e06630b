"""A glTF binary written by hand (no mesh library): a box, for tests that need a real GLB a browser's 3D
viewer can load. Layout per the glTF 2.0 specification, section "GLB File Format Specification": a 12-byte
header, a JSON chunk padded with spaces and a BIN chunk padded with zeros, each to 4 bytes."""

import json
import struct

FLOAT, UNSIGNED_SHORT = 5126, 5123
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def box_glb(width: float = 0.4, height: float = 1.7, depth: float = 0.25) -> bytes:
    x, y, z = width / 2, height, depth / 2
    corners = [(sx * x, sy, sz * z) for sx in (-1, 1) for sy in (0, y) for sz in (-1, 1)]
    # Two triangles per face, counter-clockwise seen from outside.
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]
    positions = b"".join(struct.pack("<3f", *corner) for corner in corners)
    indices = b"".join(struct.pack("<3H", *face) for face in faces)
    binary = positions + indices
    binary += b"\x00" * (-len(binary) % 4)
    document = {
        "asset": {"version": "2.0", "generator": "MediLens test box"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "accessors": [
            {"bufferView": 0, "componentType": FLOAT, "count": len(corners), "type": "VEC3",
             "min": [-x, 0.0, -z], "max": [x, y, z]},
            {"bufferView": 1, "componentType": UNSIGNED_SHORT, "count": 3 * len(faces), "type": "SCALAR"},
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions), "target": ARRAY_BUFFER},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices), "target": ELEMENT_ARRAY_BUFFER},
        ],
        "buffers": [{"byteLength": len(binary)}],
    }
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks
