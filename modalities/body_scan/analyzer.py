"""The body-scan analyzer: one 3D surface of a standing person in (GLB, PLY, OBJ or STL, optionally with photos);
standing height, surface area, volume, waist (WHO site), narrowest trunk and hip circumferences, WHtR and WHR out,
with the normalised mesh, a viewer model, a slices picture and the measurements as artifacts.

At upload (``prepare_files``): the type from the content (``detect``), what the file declares read from its headers
(``limits``: face count, GLB bombs and external references, the 100 MB cap); refused with a 400, nothing stored;
the stored copy is cleared of free text that may name the patient (``deidentify``). In
the worker: ``load`` (trimesh, upright, metres), ``measure`` (``slices``, ``volume``), ``report`` (``rule``,
``picture``, ``artifacts``).

The web process imports this module at start-up (the registry) and checks uploads with ``detect``, ``limits``
and ``deidentify`` only: ``load``, ``measure`` and ``report`` bring trimesh and SciPy (1.3 s of every process
start, web, worker or ``manage.py`` command), so they are imported by the first analysis in a worker process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import TYPE_CHECKING

from ..base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, InputError, Modality, StageSpec
from ..registry import register
from . import catalogue, deidentify, detect, limits
from .inputs import BodyScanInputs

if TYPE_CHECKING:  # pragma: no cover
    from .load import Body

PHOTO_TYPES = {"image/jpeg", "image/png"}
MAX_PHOTOS = 8
# libmagic's type for each mesh format as it reports them (GLB: model/gltf-binary; binary PLY and STL:
# application/octet-stream; ASCII PLY, STL and OBJ: text/plain; some libmagic versions name STL and OBJ) ->
# an extension for the portal's file picker. ``prepare_files`` stores each file with its detected format's.
ACCEPTED_TYPES = {
    "model/gltf-binary": "glb",
    "application/octet-stream": "ply",
    "text/plain": "obj",
    "model/stl": "stl",
    "model/x.stl-binary": "stl",
    "model/x.stl-ascii": "stl",
    "application/sla": "stl",
    "model/obj": "obj",
    "image/jpeg": "jpg",
    "image/png": "png",
}


@register
class BodyScanAnalyzer(Analyzer):
    modality = Modality(
        name="body_scan",
        label="3D body scan",
        description=(
            "Standing height, surface area, volume, waist (WHO site), narrowest trunk and hip circumferences, "
            "waist-to-height and waist-to-hip ratios from one 3D surface scan (GLB, PLY, OBJ or STL), with optional "
            "photos stored beside it."
        ),
        stages=(
            StageSpec("load", "Read and check the mesh"),
            StageSpec("measure", "Height, area and volume"),
            StageSpec("slices", "Waist and hip sections"),
            StageSpec("report", "Risk rule, pictures and models"),
        ),
        catalogue=catalogue.CATALOGUE,
        accepted_types=ACCEPTED_TYPES,
        requires_files=True,
        deadline_seconds=300,
        no_confidence_reason="Not applicable: measurements read against published thresholds, not a probability",
        input_schema=BodyScanInputs,
        demo_module="modalities.body_scan.synthetic",
    )

    def prepare_files(self, files: list) -> list:
        """One mesh (type from its content, headers checked) and up to MAX_PHOTOS photos."""
        meshes = [upload for upload in files if upload.content_type not in PHOTO_TYPES]
        photos = len(files) - len(meshes)
        if len(meshes) != 1:
            raise InputError({"files": f"Upload exactly one 3D mesh per body scan ({len(meshes)} given), and "
                                       "optionally photos (JPEG or PNG)."})
        if photos > MAX_PHOTOS:
            raise InputError({"files": f"At most {MAX_PHOTOS} photos may be stored with a body scan ({photos} given)."})
        upload = meshes[0]
        try:
            fmt = _check(upload.content, upload.size)
            cleaned = deidentify.clean(upload.content, upload.size, fmt)
            size, digest = _measure(cleaned)
            if _check(cleaned, size) != fmt:  # a guard: the cleaning cuts text only
                raise detect.NotAMesh("removing its text would change its format.")
        except (detect.NotAMesh, limits.MeshRefused) as error:
            raise InputError({"files": f"{upload.original_filename}: {error}"}) from None
        finally:
            upload.content.seek(0)
        cleaned.seek(0)
        checked = dataclasses.replace(upload, extension=fmt, content=cleaned, size=size, sha256_stored=digest)
        return [checked if item is upload else item for item in files]

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        from . import measure, report
        from .volume import measure as measure_volume

        inputs = context.inputs
        meshes = [item for item in context.files if item.content_type not in PHOTO_TYPES]
        if len(meshes) != 1:
            raise AnalysisError(f"Expected one 3D mesh, found {len(meshes)}.")
        with context.stage("load"):
            with meshes[0].open() as handle:
                data = handle.read()
            body = _load(data, inputs)
        with context.stage("measure"):
            volume = measure_volume(body.mesh, body.closed)
        with context.stage("slices"):
            try:
                measures = measure.measure_body(body, volume)
            except measure.NoTrunk as error:
                raise AnalysisError(f"The scan cannot be measured: {error}") from None
        with context.stage("report"):
            return report.build(
                body=body,
                measures=measures,
                inputs=inputs,
                sex_at_birth=context.patient.sex_at_birth,
                photos=len(context.files) - 1,
            )


def _check(content, size: int) -> str:
    content.seek(0)
    head = content.read(detect.HEAD_BYTES)
    fmt = detect.mesh_format(head, size)
    limits.check(content, size, fmt)
    return fmt


def _measure(content) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    content.seek(0)
    for block in iter(lambda: content.read(deidentify.CHUNK), b""):
        digest.update(block)
        size += len(block)
    content.seek(0)
    return size, digest.hexdigest()


def _load(data: bytes, inputs: dict) -> Body:
    from . import load

    try:
        fmt = _check(io.BytesIO(data), len(data))
        return load.load(
            data,
            fmt,
            units=inputs.get("units") or "m",
            up_axis=inputs.get("up_axis") or "auto",
            keep_texture=bool(inputs.get("keep_texture")),
        )
    except (detect.NotAMesh, limits.MeshRefused, load.MeshUnusable) as error:
        raise AnalysisError(f"The scan cannot be measured: {error}") from None
