"""What a mesh file declares, read before it is loaded whole: its face count (GLB accessors, the PLY header, the STL
triangle count, OBJ ``f`` lines), and for a GLB the checks that keep a small file from asking for a lot.

A file is refused (``MeshRefused``) when:

* it declares more faces than ``BODY_SCAN_MAX_FACES`` (default 5 million; a whole-body scanner's mesh is usually
  0.1-2 million);
* it declares no faces (a point cloud: the surface cannot be measured);
* a GLB declares more data than it holds (a decompression or allocation bomb): the GLB's length field must be the
  file's size, each buffer view must lie inside the binary chunk, each accessor inside its buffer view, and no
  accessor may be without data (glTF lets one stand for zeros of any count);
* a GLB needs anything outside itself (a buffer or image ``uri``, data URIs included) or a compression extension
  (Draco, meshopt) or GPU instancing: MediLens reads plain triangles only;
* a PLY header declares more elements than the file can hold.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from .detect import GLB, OBJ, PLY, STL

DEFAULT_MAX_FACES = 5_000_000
DEFAULT_MAX_BYTES = 100_000_000  # the 100 MB cap for a body scan
CHUNK = 1 << 20
GLB_JSON, GLB_BIN = 0x4E4F534A, 0x004E4942
MAX_GLB_JSON_BYTES = 16_000_000
REFUSED_EXTENSIONS = {
    "KHR_draco_mesh_compression": "Draco compression",
    "EXT_meshopt_compression": "meshopt compression",
    "KHR_meshopt_compression": "meshopt compression",
    "EXT_mesh_gpu_instancing": "GPU instancing",
    "KHR_mesh_quantization": "quantised positions",
}
# glTF 2.0 accessor componentType -> bytes, and type -> components (specification 3.6.2).
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
# PLY property types -> bytes (PLY specification).
PLY_BYTES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
    "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8,
}


class MeshRefused(ValueError):
    """The file cannot be analysed safely or at all; the message says why, in a clinician's words."""


@dataclass(frozen=True)
class Declared:
    faces: int
    vertices: int | None = None


def max_faces() -> int:
    return int(getattr(settings, "BODY_SCAN_MAX_FACES", DEFAULT_MAX_FACES))


def max_bytes() -> int:
    return int(getattr(settings, "BODY_SCAN_MAX_BYTES", DEFAULT_MAX_BYTES))


def check(fileobj: IO[bytes], size: int, fmt: str) -> Declared:
    """What the file declares, or MeshRefused. Reads headers (and streams OBJ / ASCII STL lines), never the mesh."""
    if size > max_bytes():
        raise MeshRefused(f"the file is {size / 1e6:.1f} MB; a body scan may be at most {max_bytes() / 1e6:.0f} MB.")
    fileobj.seek(0)
    readers = {GLB: _glb, PLY: _ply, STL: _stl, OBJ: _obj}
    try:
        declared = readers[fmt](fileobj, size)
    except MeshRefused:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, struct.error):
        # A header whose values have the wrong JSON types or shapes ("bufferViews": "x", a count of "many").
        raise MeshRefused(f"the {fmt.upper()} file's header is malformed.") from None
    finally:
        fileobj.seek(0)
    if declared.faces == 0:
        raise MeshRefused("it has no faces (a point cloud or an empty mesh): a body surface is needed to measure.")
    if declared.faces > max_faces():
        raise MeshRefused(
            f"it declares {declared.faces:,} faces; the limit is {max_faces():,}. Decimate the scan and upload again."
        )
    return declared


# --- GLB ---------------------------------------------------------------------------------------------------------
def _glb(fileobj: IO[bytes], size: int) -> Declared:
    header = fileobj.read(20)
    if len(header) < 20:
        raise MeshRefused("the glTF binary file is truncated.")
    _magic, _version, length, json_length, json_type = struct.unpack("<4sIIII", header)
    if length != size:
        raise MeshRefused(f"the glTF binary file declares {length:,} bytes but holds {size:,}.")
    if json_type != GLB_JSON or json_length > min(size - 20, MAX_GLB_JSON_BYTES):
        raise MeshRefused("the glTF binary file has no readable JSON chunk.")
    try:
        document = json.loads(fileobj.read(json_length))
    except (ValueError, UnicodeDecodeError):
        raise MeshRefused("the glTF binary file's JSON chunk is not valid JSON.") from None
    if not isinstance(document, dict):
        raise MeshRefused("the glTF binary file's JSON chunk is not a glTF document.")
    bin_length = _glb_bin_length(fileobj, size, 20 + json_length)
    return _glb_document(document, bin_length)


def _glb_bin_length(fileobj: IO[bytes], size: int, offset: int) -> int:
    offset += (-offset) % 4
    if offset + 8 > size:
        return 0
    fileobj.seek(offset)
    bin_length, bin_type = struct.unpack("<II", fileobj.read(8))
    if bin_type != GLB_BIN or offset + 8 + bin_length > size:
        raise MeshRefused("the glTF binary file's binary chunk is larger than the file.")
    return bin_length


def _glb_document(document: dict, bin_length: int) -> Declared:
    used = set(document.get("extensionsUsed") or []) | set(document.get("extensionsRequired") or [])
    refused = sorted({REFUSED_EXTENSIONS[name] for name in used if name in REFUSED_EXTENSIONS})
    if refused:
        raise MeshRefused(f"the glTF file uses {', '.join(refused)}, which MediLens does not read; export plain "
                          "triangles.")
    for kind in ("buffers", "images"):
        if any(isinstance(item, dict) and "uri" in item for item in document.get(kind) or []):
            raise MeshRefused(f"the glTF file refers to {kind} outside itself (a uri); everything must be inside "
                              "the .glb.")
    buffers = document.get("buffers") or []
    if len(buffers) > 1 or any(_int(b.get("byteLength")) > bin_length for b in buffers):
        raise MeshRefused("the glTF file declares more buffer data than its binary chunk holds.")
    views = document.get("bufferViews") or []
    for view in views:
        end = _int(view.get("byteOffset", 0)) + _int(view.get("byteLength"))
        if view.get("buffer") != 0 or end > bin_length:
            raise MeshRefused("a glTF buffer view lies outside the file's binary data.")
    accessors = document.get("accessors") or []
    for accessor in accessors:
        _check_accessor(accessor, views)
    return Declared(faces=_glb_faces(document, accessors))


def _check_accessor(accessor: dict, views: list) -> None:
    view_index = accessor.get("bufferView")
    if not isinstance(view_index, int) or not 0 <= view_index < len(views) or "sparse" in accessor:
        raise MeshRefused("a glTF accessor has no data of its own (zeros or sparse): refused as a possible bomb.")
    element = COMPONENT_BYTES.get(accessor.get("componentType"), 0) * TYPE_COMPONENTS.get(accessor.get("type"), 0)
    view = views[view_index]
    stride = max(_int(view.get("byteStride", 0)), element)
    count = _int(accessor.get("count"))
    if element == 0 or count < 0:
        raise MeshRefused("a glTF accessor has an unknown type.")
    needed = _int(accessor.get("byteOffset", 0)) + (stride * (count - 1) + element if count else 0)
    if needed > _int(view.get("byteLength")):
        raise MeshRefused("a glTF accessor declares more data than its buffer view holds.")


def _glb_faces(document: dict, accessors: list) -> int:
    uses = {}
    for node in document.get("nodes") or []:
        if "mesh" in node:
            uses[_int(node["mesh"])] = uses.get(node["mesh"], 0) + 1
    faces = 0
    for index, mesh in enumerate(document.get("meshes") or []):
        for primitive in (mesh or {}).get("primitives") or []:
            faces += _primitive_faces(primitive, accessors) * max(uses.get(index, 0), 1)
    return faces


def _primitive_faces(primitive: dict, accessors: list) -> int:
    mode = primitive.get("mode", 4)
    source = primitive.get("indices")
    if source is None:
        source = (primitive.get("attributes") or {}).get("POSITION")
    if not isinstance(source, int) or not 0 <= source < len(accessors):
        return 0
    count = _int(accessors[source].get("count"))
    if mode == 4:
        return count // 3
    if mode in (5, 6):
        return max(count - 2, 0)
    return 0  # points and lines: no surface


def _int(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MeshRefused("the glTF file has a malformed count, offset or length.")
    return value


# --- PLY ---------------------------------------------------------------------------------------------------------
def _ply(fileobj: IO[bytes], size: int) -> Declared:
    head = fileobj.read(65536)
    end = head.find(b"end_header")
    if end < 0:
        raise MeshRefused("the PLY header has no end_header line within its first 64 kB.")
    lines = head[:end].decode("ascii", "replace").splitlines()
    encoding, elements = "ascii", []
    for line in lines:
        words = line.split()
        if words[:1] == ["format"] and len(words) > 1:
            encoding = words[1]
        elif words[:1] == ["element"] and len(words) == 3 and words[2].isdigit():
            elements.append([words[1], int(words[2]), 0])
        elif words[:1] == ["property"] and elements:
            elements[-1][2] += _ply_property_bytes(words)
    counts = {name: count for name, count, _ in elements}
    body = size - end
    minimum = sum(count * (row if encoding != "ascii" else 2) for _, count, row in elements)
    if minimum > body:
        raise MeshRefused("the PLY header declares more vertices or faces than the file holds.")
    return Declared(faces=counts.get("face", 0), vertices=counts.get("vertex", 0))


def _ply_property_bytes(words: list[str]) -> int:
    if words[1:2] == ["list"] and len(words) != 5 or len(words) < 3:
        raise MeshRefused(f"the PLY header has a malformed property line ({' '.join(words)[:60]!r}).")
    if words[1] == "list":
        # A face list holds at least its count and three indices.
        return PLY_BYTES.get(words[2], 1) + 3 * PLY_BYTES.get(words[3], 4)
    return PLY_BYTES.get(words[1], 1)


# --- STL and OBJ -------------------------------------------------------------------------------------------------
def _stl(fileobj: IO[bytes], size: int) -> Declared:
    head = fileobj.read(84)
    if len(head) == 84 and size == 84 + 50 * struct.unpack_from("<I", head, 80)[0]:
        return Declared(faces=struct.unpack_from("<I", head, 80)[0])
    fileobj.seek(0)
    return Declared(faces=_count(fileobj, b"facet normal"))


def _obj(fileobj: IO[bytes], size: int) -> Declared:
    return Declared(faces=_count(fileobj, b"\nf "))


def _count(fileobj: IO[bytes], pattern: bytes) -> int:
    """Occurrences of ``pattern``, streamed in 1 MB blocks. An OBJ face line may be a polygon: it is counted once
    (a quad mesh declares half the triangles it will have)."""
    count, carry = 0, b"\n"
    for block in iter(lambda: fileobj.read(CHUNK), b""):
        text = carry + block
        count += text.count(pattern)
        carry = text[-(len(pattern) - 1) :]  # shorter than a match: nothing is counted twice
    return count
