"""Bad files get a clear refusal: at upload (``prepare_files``: InputError, a 400, nothing stored) when the headers
tell, else a failed analysis with its reason (AnalysisError) or, for the volume alone, a not-applicable entry."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import trimesh

from modalities.base import AnalysisError, InputError

from . import shapes
from .helpers import ANALYZER, analyse, prepared


def refusal(data: bytes, name: str = "scan.bin", content_type: str = "application/octet-stream") -> str:
    with pytest.raises(InputError) as caught:
        ANALYZER.prepare_files([prepared(name, data, content_type)])
    return caught.value.errors["files"]


def accepted(data: bytes, name: str = "scan.bin"):
    (item,) = ANALYZER.prepare_files([prepared(name, data)])
    return item


def jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 150, 130)).save(buffer, format="JPEG")
    return buffer.getvalue()


def capsule(**kwargs) -> trimesh.Trimesh:
    mesh = trimesh.creation.capsule(height=1.4, radius=0.15, count=[32, 32])
    mesh.apply_translation([0, 0, 0.85])
    return mesh


def glb_parts(data: bytes) -> tuple[dict, bytes]:
    length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + length])
    rest = data[20 + length :]
    return document, rest[8:] if rest else b""


def glb(document: dict, binary: bytes, declared_length: int | None = None) -> bytes:
    text = json.dumps(document).encode()
    text += b" " * ((-len(text)) % 4)
    binary += b"\0" * ((-len(binary)) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(binary), 0x004E4942) + binary
    total = 12 + len(body)
    return struct.pack("<4sII", b"glTF", 2, declared_length or total) + body


# --- type from content --------------------------------------------------------------------------------------------
def test_the_type_comes_from_the_content_not_the_name():
    ply = capsule().export(file_type="ply")
    assert accepted(ply, name="scan.stl").extension == "ply"
    stl = capsule().export(file_type="stl")
    assert accepted(stl, name="scan.ply").extension == "stl"
    solid_header = b"solid but binary" + stl[16:]  # a binary STL whose header begins with "solid"
    assert accepted(solid_header, name="scan.obj").extension == "stl"
    obj = capsule().export(file_type="obj").encode()
    assert accepted(obj, name="scan.glb").extension == "obj"
    ascii_stl = trimesh.exchange.stl.export_stl_ascii(capsule()).encode()
    assert accepted(ascii_stl).extension == "stl"
    assert accepted(capsule().export(file_type="glb"), name="scan.ply").extension == "glb"


def test_a_file_that_is_not_a_mesh_is_refused_at_upload():
    assert "not a 3D mesh" in refusal(b"Patient notes: nothing to see here.\n" * 20, content_type="text/plain")
    assert "not a 3D mesh" in refusal(np.random.default_rng(1).bytes(5000))
    assert "glTF JSON" in refusal(json.dumps({"asset": {"version": "2.0"}}).encode(), content_type="application/json")


def test_a_mesh_with_no_faces_or_a_point_cloud_is_refused_at_upload():
    points = trimesh.PointCloud(np.random.default_rng(2).random((500, 3)))
    assert "no faces" in refusal(points.export(file_type="ply"))
    assert "no faces" in refusal(b"\0" * 80 + struct.pack("<I", 0))  # binary STL of zero triangles
    assert "no faces" in refusal(b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" * 10, content_type="text/plain")


def test_only_one_mesh_and_photos_beside_it():
    ply = capsule().export(file_type="ply")
    assert "exactly one 3D mesh" in str(pytest.raises(InputError, ANALYZER.prepare_files,
                                                      [prepared("a", ply), prepared("b", ply)]).value)  # fmt: skip
    kept = ANALYZER.prepare_files([prepared("a", ply), prepared("p.jpg", b"\xff\xd8", "image/jpeg")])
    assert [item.extension for item in kept] == ["ply", "bin"]  # the photo was checked by the generic upload path


def test_an_oversize_file_is_refused_at_upload(settings):
    data = capsule().export(file_type="ply")
    settings.BODY_SCAN_MAX_BYTES = len(data) - 1
    assert "at most" in refusal(data)


def test_too_many_faces_are_refused_from_the_header_before_loading(settings):
    settings.BODY_SCAN_MAX_FACES = 1000
    mesh = capsule()
    assert len(mesh.faces) > 1000
    for file_type in ("ply", "stl", "glb", "obj"):
        data = mesh.export(file_type=file_type)
        assert "limit is 1,000" in refusal(data.encode() if isinstance(data, str) else data), file_type


# --- GLB: bombs and references ------------------------------------------------------------------------------------
def test_a_glb_declaring_more_data_than_it_holds_is_refused():
    document, binary = glb_parts(capsule().export(file_type="glb"))
    bomb = json.loads(json.dumps(document))
    bomb["accessors"][0]["count"] = 2_000_000_000
    assert "more data than" in refusal(glb(bomb, binary))
    zeros = json.loads(json.dumps(document))
    del zeros["accessors"][0]["bufferView"]  # an accessor without data stands for zeros of any count
    assert "no data of its own" in refusal(glb(zeros, binary))
    views = json.loads(json.dumps(document))
    views["bufferViews"][0]["byteLength"] = 10**9
    assert "outside" in refusal(glb(views, binary))
    assert "declares" in refusal(glb(document, binary, declared_length=10**9))


def test_a_glb_with_compression_or_outside_references_is_refused():
    document, binary = glb_parts(capsule().export(file_type="glb"))
    draco = {**document, "extensionsUsed": ["KHR_draco_mesh_compression"]}
    assert "Draco" in refusal(glb(draco, binary))
    meshopt = {**document, "extensionsRequired": ["EXT_meshopt_compression"]}
    assert "meshopt" in refusal(glb(meshopt, binary))
    external = {**document, "buffers": [{"byteLength": 10, "uri": "https://example.org/body.bin"}]}
    assert "outside itself" in refusal(glb(external, binary))
    image = {**document, "images": [{"uri": "file:///etc/passwd"}]}
    assert "outside itself" in refusal(glb(image, binary))


def test_a_valid_glb_is_accepted():
    assert accepted(capsule().export(file_type="glb")).extension == "glb"


# --- in the worker ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("scale", "shown"), [(1000.0, "1,690 m"), (0.001, "1.7 mm")])
def test_a_person_of_absurd_size_fails_with_the_reason(scale, shown):
    figure = shapes.body()
    figure.apply_scale(scale)
    with pytest.raises(AnalysisError) as caught:
        analyse(figure.export(file_type="ply"), {"units": "m", "up_axis": "z"})
    assert shown in caught.value.reason and "units" in caught.value.reason


def test_an_open_mesh_is_repaired_before_its_volume_and_says_so():
    solid = shapes.elliptic_cylinder(0.15, 0.11, 0.0, 1.7, sections=128)
    top = solid.vertices[solid.faces][:, :, 2].min(axis=1) > 1.7 - 1e-6  # the top cap's faces
    open_solid = trimesh.Trimesh(solid.vertices, solid.faces[~top])
    assert not open_solid.is_watertight
    result = analyse(open_solid.export(file_type="ply"), {"up_axis": "z"})
    assert abs(result.biomarkers["body_volume"] - np.pi * 0.15 * 0.11 * 1.7 * 1000) <= 0.01 * 88.1
    assert result.details["volume_after_repair"] is True
    assert any("after repair" in note for note in result.notes)


def test_an_open_mesh_that_cannot_be_repaired_has_no_volume_and_says_why():
    shells = []
    for x in (-0.3, 0.3):  # two open tubes, far apart: MeshFix keeps one part, leaving half the surface out
        tube = shapes.elliptic_cylinder(0.12, 0.1, 0.0, 1.7, x=x, sections=96)
        caps = np.abs(tube.face_normals[:, 2]) > 0.5
        shells.append(trimesh.Trimesh(tube.vertices, tube.faces[~caps]))
    shells.append(shapes.elliptic_cylinder(0.14, 0.1, 0.5, 1.3, sections=96))  # a trunk the slices can find
    result = analyse(trimesh.util.concatenate(shells).export(file_type="ply"), {"up_axis": "z"})
    assert "body_volume" not in result.biomarkers
    (item,) = [entry for entry in result.not_applicable if entry.name == "body_volume"]
    assert "Not measured" in item.reason and "surface" in item.reason


def test_a_shape_with_no_trunk_at_the_waist_fails_with_the_reason():
    legs = trimesh.util.concatenate([shapes.elliptic_cylinder(0.05, 0.05, 0, 1.7, x=side * 0.3) for side in (-1, 1)])
    with pytest.raises(AnalysisError) as caught:
        analyse(legs.export(file_type="ply"), {"up_axis": "z"})
    assert "no trunk section" in caught.value.reason


def test_inputs_are_checked_with_clear_errors():
    from .helpers import MAN

    with pytest.raises(InputError) as caught:
        ANALYZER.validate_inputs(inputs={"units": "inch", "up_axis": "w", "height_cm": 5000, "colour": 1}, patient=MAN)
    assert set(caught.value.errors) == {"colour"}
    with pytest.raises(InputError) as caught:
        ANALYZER.validate_inputs(inputs={"units": "inch", "up_axis": "w", "height_cm": 5000}, patient=MAN)
    assert set(caught.value.errors) == {"units", "up_axis", "height_cm"}
    resolved = ANALYZER.validate_inputs(inputs={}, patient=MAN)
    assert resolved == {"units": "m", "up_axis": "auto", "keep_texture": False, "height_cm": 176.0, "weight_kg": 81.0}


# --- the stored copy ----------------------------------------------------------------------------------------------
def _named_copies() -> dict[str, bytes]:
    figure = shapes.body()
    ply = figure.export(file_type="ply")
    end = ply.index(b"end_header")
    ply = ply[:end] + b"comment Jane Doe MRN 4471\nobj_info scanned for Jane Doe\n" + ply[end:]
    obj = "# Patient: Jane Doe\nmtllib janedoe.mtl\no JaneDoe\n" + figure.export(file_type="obj")
    stl = figure.export(file_type="stl")
    binary_stl = b"Jane Doe 4471".ljust(80, b"\0") + stl[80:]
    ascii_stl = trimesh.exchange.stl.export_stl_ascii(figure).replace("solid", "solid JaneDoe", 1)
    ascii_stl = ascii_stl.rstrip().rsplit("\n", 1)[0] + "\nendsolid JaneDoe\n"
    document, binary = glb_parts(figure.export(file_type="glb"))
    document["asset"]["generator"] = "Scanner 3 for Jane Doe"
    document["asset"]["copyright"] = "Jane Doe"
    document["nodes"][0]["name"] = "Jane Doe"
    document["extras"] = {"patient": "Jane Doe"}
    return {
        "ply": ply,
        "obj": obj.encode(),
        "binary stl": binary_stl,
        "ascii stl": ascii_stl.encode(),
        "glb": glb(document, binary),
    }


@pytest.mark.parametrize("case", ["ply", "obj", "binary stl", "ascii stl", "glb"])
def test_the_stored_copy_has_no_name_and_measures_the_same(case):
    data = _named_copies()[case]
    assert b"Jane" in data
    (stored,) = ANALYZER.prepare_files([prepared("Jane Doe scan.bin", data)])
    cleaned = stored.content.read()
    assert b"Jane" not in cleaned and b"jane" not in cleaned.lower()
    assert stored.size == len(cleaned) and stored.sha256_original != stored.sha256_stored
    inputs = {"up_axis": "z"}  # the figure is +Z up, in the GLB too
    assert analyse(cleaned, inputs).biomarkers == analyse(data, inputs).biomarkers


# --- the result's model -------------------------------------------------------------------------------------------
def test_textures_and_colours_are_dropped_from_the_model_unless_kept():
    from PIL import Image

    textured = shapes.body()
    uv = np.random.default_rng(0).random((len(textured.vertices), 2))
    textured.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.new("RGB", (8, 8), (200, 120, 90)))
    coloured = shapes.body()
    coloured.visual.vertex_colors = np.tile([200, 120, 90, 255], (len(coloured.vertices), 1))
    for data in (textured.export(file_type="glb"), coloured.export(file_type="ply")):
        for keep in (False, True):
            result = analyse(data, {"up_axis": "z", "keep_texture": keep})
            (model,) = [item.data for item in result.artifacts if item.role == "model"]
            document, _ = glb_parts(model)
            primitive = document["meshes"][0]["primitives"][0]
            has_look = "images" in document or "COLOR_0" in primitive["attributes"]
            assert has_look == keep, (keep, document.keys(), primitive["attributes"])
            assert any("may identify" in note for note in result.notes) == keep


def test_the_model_is_upright_in_metres_and_centred_on_the_floor():
    figure = shapes.body()
    figure.apply_scale(100)
    figure.apply_translation([500, -200, 300])  # anywhere in the scanner's frame, in centimetres
    result = analyse(figure.export(file_type="ply"), {"units": "cm", "up_axis": "z"})
    models = {item.role: trimesh.load(io.BytesIO(item.data), file_type="glb", force="mesh")
              for item in result.artifacts if item.role in ("model", "viewer")}  # fmt: skip
    low, high = models["model"].bounds
    assert abs(low[1]) < 1e-6 and abs(high[1] - shapes.HEIGHT) < 1e-3  # +Y up, floor at 0, metres
    assert abs(low[0] + high[0]) < 1e-6 and abs(low[2] + high[2]) < 1e-6  # footprint centred
    viewer = result.artifacts[1].data
    names = {node.get("name") for node in glb_parts(viewer)[0]["nodes"]}
    assert {"body", "waist", "hip"} <= names
    assert [item.role for item in result.artifacts] == ["model", "viewer", "image", "data"]
    assert result.artifacts[2].data[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(result.artifacts[3].data)["slices"] == result.details["slices"]


@pytest.mark.parametrize(
    "change",
    [
        {"bufferViews": "x"},
        {"accessors": [7]},
        {"meshes": [{"primitives": "all"}]},
        {"nodes": [{"mesh": "0"}]},
        {"buffers": [{"byteLength": "big"}]},
        {"extensionsUsed": 5},
    ],
)
def test_a_glb_with_malformed_json_values_is_a_clear_refusal(change):
    document, binary = glb_parts(capsule().export(file_type="glb"))
    message = refusal(glb({**document, **change}, binary))
    assert "malformed" in message or "glTF" in message, message


def test_a_malformed_ply_header_is_a_clear_refusal():
    assert "PLY" in refusal(b"ply\nformat binary_little_endian 1.0\nelement vertex many\n" + b"\0" * 100)
    assert "PLY" in refusal(b"ply\nformat ascii 1.0\nelement face 3\nproperty list\nend_header\n1 2 3\n")
