"""Which mesh format a file is, from its content alone (never its name or the client's content type).

* glTF binary (GLB): the 4-byte magic ``glTF`` and version 2 (Khronos glTF 2.0 specification, "GLB File Format
  Specification", section 4.4.2).
* PLY: the first line is ``ply`` (Turk, The PLY Polygon File Format; Paul Bourke's copy of the specification).
* binary STL: an 80-byte header, a little-endian uint32 triangle count ``n`` and 50 bytes per triangle, so the file
  is exactly ``84 + 50 n`` bytes. Checked before ASCII STL, because many binary STL headers begin with "solid".
* ASCII STL: begins with ``solid`` and has ``facet`` records.
* Wavefront OBJ: text whose statement lines are OBJ keywords, with ``v`` lines.

A glTF JSON file (``.gltf``) is refused here: its geometry lives in other files or in data URIs; a GLB carries it
in one file.
"""

from __future__ import annotations

import struct

GLB, PLY, STL, OBJ = "glb", "ply", "stl", "obj"
FORMATS = (GLB, PLY, STL, OBJ)
LABELS = {GLB: "glTF binary (GLB)", PLY: "PLY", STL: "STL", OBJ: "Wavefront OBJ"}
HEAD_BYTES = 65536
# Keywords an OBJ statement may start with (Wavefront OBJ specification, appendix B1 of the Advanced Visualizer
# manual): geometry, grouping and material statements. Anything else in the first 64 kB is not an OBJ file.
OBJ_KEYWORDS = {
    b"v", b"vt", b"vn", b"vp", b"f", b"l", b"p", b"o", b"g", b"s", b"mtllib", b"usemtl", b"cstype", b"deg",
    b"curv", b"curv2", b"surf", b"parm", b"trim", b"hole", b"scrv", b"sp", b"end", b"con", b"mg", b"bevel",
    b"c_interp", b"d_interp", b"lod", b"shadow_obj", b"trace_obj", b"ctech", b"stech", b"bmat", b"step", b"call",
    b"csh", b"maplib", b"usemap",
}


class NotAMesh(ValueError):
    """The content is not one of the accepted mesh formats; the message says what it looks like."""


def mesh_format(head: bytes, size: int) -> str:
    """The format of a file whose first bytes are ``head`` (at least the first 64 kB, or all of a smaller file)
    and whose length is ``size`` bytes."""
    if head[:4] == b"glTF":
        version = struct.unpack_from("<I", head, 4)[0] if len(head) >= 8 else 0
        if version != 2:
            raise NotAMesh(f"the glTF binary file is version {version}; only glTF 2.0 is accepted.")
        return GLB
    if head[:4] in (b"ply\n", b"ply\r"):
        return PLY
    if size >= 84 and len(head) >= 84 and size == 84 + 50 * struct.unpack_from("<I", head, 80)[0]:
        return STL
    text = head.lstrip()
    if text[:5].lower() == b"solid" and b"facet" in head:
        return STL
    if text[:1] == b"{" and b'"asset"' in head:
        raise NotAMesh("it is a glTF JSON file (.gltf); upload the glTF binary (.glb), which holds its geometry.")
    if _looks_like_obj(head):
        return OBJ
    raise NotAMesh("it is not a 3D mesh (accepted: glTF binary .glb, PLY, STL, OBJ).")


def _looks_like_obj(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    lines = head.splitlines()
    if len(head) == HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    keywords = [line.split(None, 1)[0] for line in lines if line.strip() and not line.lstrip().startswith(b"#")]
    return bool(keywords) and b"v" in keywords and all(word in OBJ_KEYWORDS for word in keywords)
