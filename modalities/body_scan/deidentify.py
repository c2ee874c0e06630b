"""The copy of an uploaded mesh that is stored: the same geometry without the free text that may name the patient
(DESIGN rule 9). Scanner software writes the subject's name or an ID into the places a format has for text:

* PLY: ``comment`` and ``obj_info`` header lines (dropped);
* binary STL: the 80-byte header (zeroed); ASCII STL: the name after ``solid`` and ``endsolid`` (dropped);
* OBJ: ``#`` comment lines (dropped), ``o`` and ``g`` names (renamed "body"), ``mtllib`` references to other files
  (dropped);
* GLB: every ``name`` and ``extras`` in the JSON chunk, and the asset's ``generator`` and ``copyright`` (dropped).

Vertex and face data are copied byte for byte (the stored file analyses to the same numbers). Textures are kept:
the ``keep_texture`` choice is the analysis's, and the stored upload is in the private bucket. Streamed through a
spooled temporary file, as uploads are: a 100 MB scan is never held whole in memory.
"""

from __future__ import annotations

import json
import struct
import tempfile
from typing import IO

from .detect import GLB, OBJ, PLY, STL

SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 1 << 20
PLY_TEXT = (b"comment", b"obj_info")
OBJ_DROPPED = (b"#", b"mtllib")


def clean(source: IO[bytes], size: int, fmt: str) -> IO[bytes]:
    source.seek(0)
    target = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open, as uploads are
    {GLB: _glb, PLY: _ply, STL: _stl, OBJ: _obj}[fmt](source, size, target)
    target.seek(0)
    source.seek(0)
    return target


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    for block in iter(lambda: source.read(CHUNK), b""):
        target.write(block)


def _ply(source, size, target) -> None:
    head = source.read(65536)
    end = head.index(b"end_header") + len(b"end_header")
    end = head.index(b"\n", end) + 1
    lines = head[:end].splitlines(keepends=True)
    target.write(b"".join(line for line in lines if not line.lstrip().startswith(PLY_TEXT)))
    target.write(head[end:])
    _copy(source, target)


def _stl(source, size, target) -> None:
    head = source.read(84)
    if len(head) == 84 and size == 84 + 50 * struct.unpack_from("<I", head, 80)[0]:
        target.write(b"\0" * 80 + head[80:])
        _copy(source, target)
        return
    source.seek(0)
    for line in _lines(source):
        word = line.split(None, 1)[0] if line.strip() else b""
        if word.lower() in (b"solid", b"endsolid"):
            line = word + b"\n"
        target.write(line)


def _obj(source, size, target) -> None:
    for line in _lines(source):
        stripped = line.lstrip()
        if stripped.startswith(OBJ_DROPPED):
            continue
        if stripped[:2] in (b"o ", b"g ", b"o\t", b"g\t"):
            line = stripped[:1] + b" body\n"
        target.write(line)


def _lines(source):
    carry = b""
    for block in iter(lambda: source.read(CHUNK), b""):
        lines = (carry + block).split(b"\n")
        carry = lines.pop()
        for line in lines:
            yield line + b"\n"
    if carry:
        yield carry


def _glb(source, size, target) -> None:
    header = source.read(20)
    json_length = struct.unpack_from("<I", header, 12)[0]
    document = _without_text(json.loads(source.read(json_length)))
    asset = document.get("asset") or {}
    document["asset"] = {key: value for key, value in asset.items() if key not in ("generator", "copyright")}
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    source.seek(20 + json_length + (-json_length) % 4)
    rest = size - source.tell()
    target.write(struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + rest))
    target.write(struct.pack("<II", len(text), 0x4E4F534A) + text)
    _copy(source, target)


def glb_geometry_only(data: bytes) -> bytes:
    """The GLB without its images, textures, samplers and materials: what the measurements need, so that trimesh
    never decodes an embedded picture (a PNG can decompress to far more memory than its bytes) unless the texture
    is to be kept. The binary chunk is unchanged; nothing refers to the dropped parts any more."""
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    for key in ("images", "textures", "samplers", "materials"):
        document.pop(key, None)
    for mesh in document.get("meshes") or []:
        for primitive in mesh.get("primitives") or []:
            primitive.pop("material", None)
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    rest = data[20 + json_length + (-json_length) % 4 :]
    header = struct.pack("<4sII", b"glTF", 2, 20 + len(text) + len(rest))
    return header + struct.pack("<II", len(text), 0x4E4F534A) + text + rest


def _without_text(value):
    if isinstance(value, dict):
        return {key: _without_text(item) for key, item in value.items() if key not in ("name", "extras")}
    if isinstance(value, list):
        return [_without_text(item) for item in value]
    return value
