"""A glTF binary written by hand (no mesh library): a box, for tests that need a real GLB a browser's 3D
viewer can load. Layout per the glTF 2.0 specification, section "GLB File Format Specification": a 12-byte
header, a JSON chunk padded with spaces and a BIN chunk padded with zeros, each to 4 bytes. With
``texture_png`` the box carries an embedded PNG texture (as a textured body scan would)."""

import json
import struct

FLOAT, UNSIGNED_SHORT = 5126, 5123
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


def _pad(data: bytes, filler: bytes = b"\x00") -> bytes:
    return data + filler * (-len(data) % 4)


def box_glb(width: float = 0.4, height: float = 1.7, depth: float = 0.25, *, texture_png: bytes | None = None) -> bytes:
    x, y, z = width / 2, height, depth / 2
    corners = [(sx * x, sy, sz * z) for sx in (-1, 1) for sy in (0, y) for sz in (-1, 1)]
    # Two triangles per face, counter-clockwise seen from outside.
    faces = [
        (0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
        (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3),
    ]
    views = [
        _pad(b"".join(struct.pack("<3f", *corner) for corner in corners)),
        _pad(b"".join(struct.pack("<3H", *face) for face in faces)),
    ]
    accessors = [
        {"bufferView": 0, "componentType": FLOAT, "count": len(corners), "type": "VEC3",
         "min": [-x, 0.0, -z], "max": [x, y, z]},
        {"bufferView": 1, "componentType": UNSIGNED_SHORT, "count": 3 * len(faces), "type": "SCALAR"},
    ]
    primitive = {"attributes": {"POSITION": 0}, "indices": 1}
    document = {
        "asset": {"version": "2.0", "generator": "MediLens test box"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [primitive]}],
        "accessors": accessors,
    }
    targets = [ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER]
    if texture_png is not None:
        views.append(_pad(b"".join(struct.pack("<2f", cx / 2 + 0.5, sy / y) for cx, sy, _ in corners)))
        accessors.append({"bufferView": 2, "componentType": FLOAT, "count": len(corners), "type": "VEC2"})
        targets.append(ARRAY_BUFFER)
        views.append(_pad(texture_png))
        targets.append(None)
        primitive["attributes"]["TEXCOORD_0"] = 2
        primitive["material"] = 0
        document["images"] = [{"bufferView": 3, "mimeType": "image/png"}]
        document["textures"] = [{"source": 0}]
        document["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
    offsets, offset = [], 0
    for view in views:
        offsets.append(offset)
        offset += len(view)
    document["bufferViews"] = [
        {"buffer": 0, "byteOffset": start, "byteLength": len(view), **({"target": target} if target else {})}
        for start, view, target in zip(offsets, views, targets, strict=True)
    ]
    if texture_png is not None:  # the image's own length, not its padding
        document["bufferViews"][3]["byteLength"] = len(texture_png)
    binary = b"".join(views)
    document["buffers"] = [{"byteLength": len(binary)}]
    text = _pad(json.dumps(document, separators=(",", ":")).encode(), b" ")
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks
