"""Analyzers registered only under the test settings, to exercise the pipeline's failure paths."""

import time

from modalities.base import AnalysisError, AnalysisResult, Analyzer, BiomarkerSpec, Modality, StageSpec
from modalities.inputs import Flag, InputSchema, Number
from modalities.registry import register
from modalities.results import Score, ScoreScale

SLEEP_SCORE = ScoreScale(
    key="test_points",
    label="Test points (MediLens test rule)",
    unit="points",
    minimum=0,
    maximum=100,
    source="test",
    own_rule=True,
)


class SleepInputs(InputSchema):
    example = {"seconds": 1}

    seconds = Number(required=False, default=0, min_value=0, max_value=60,
                     error_messages={"min_value": "0-60", "max_value": "0-60"})  # fmt: skip
    fail = Flag(required=False, default=False)
    crash = Flag(required=False, default=False)

    def resolved(self, data, patient):
        return {"seconds": data.get("seconds", 0), "fail": data.get("fail", False), "crash": data.get("crash", False)}


@register
class SleepAnalyzer(Analyzer):
    """Sleeps ``seconds`` in its middle stage: long enough to kill a worker mid-task."""

    modality = Modality(
        name="test_sleep",
        label="Test: sleep",
        description="Sleeps, fails or crashes on request.",
        stages=(StageSpec("start", "Start"), StageSpec("sleep", "Sleep"), StageSpec("finish", "Finish")),
        catalogue={"slept_seconds": BiomarkerSpec("slept_seconds", "Slept", "test", "s", "test")},
        deadline_seconds=60,
        input_schema=SleepInputs,
    )

    def analyze(self, context):
        with context.stage("start"):
            pass
        with context.stage("sleep"):
            time.sleep(context.inputs["seconds"])
            if context.inputs["fail"]:
                raise AnalysisError("The test analyzer was asked to fail.")
            if context.inputs["crash"]:
                raise RuntimeError("crash requested")
        with context.stage("finish"):
            return AnalysisResult(
                method_version="test_sleep 1",
                score=Score(10.0, SLEEP_SCORE),
                risk_level="low",
                biomarkers={"slept_seconds": float(context.inputs["seconds"])},
                explanation_summary="slept",
            )


@register
class ReadFileAnalyzer(Analyzer):
    """Reads its input files from storage and measures their size: the worker's storage reads, for fault tests."""

    modality = Modality(
        name="test_read_file",
        label="Test: read a file",
        description="Reads its input files back from storage.",
        stages=(StageSpec("read", "Read"),),
        catalogue={"read_bytes": BiomarkerSpec("read_bytes", "Bytes read", "test", "", "test")},
        accepted_types={"application/pdf": "pdf"},
        requires_files=True,
        deadline_seconds=60,
    )

    def analyze(self, context):
        with context.stage("read"):
            size = 0
            for item in context.files:
                with item.open() as handle:
                    size += len(handle.read())
            return AnalysisResult(
                method_version="test_read_file 1",
                score=Score(10.0, SLEEP_SCORE),
                risk_level="low",
                biomarkers={"read_bytes": float(size)},
                explanation_summary="read",
            )


def still_png(width: int = 8, height: int = 8) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


# Tests change these (monkeypatch) to see a re-analysis write a different version.
ARTIFACT_RUN = {"method_version": "test_artifacts 1", "points": 12.0}


@register
class ArtifactAnalyzer(Analyzer):
    """Writes result artifacts as the body scan will (a viewer GLB, a model GLB, a still PNG, a JSON), so
    result versions, their downloads and the 3D viewer are tested before, and apart from, that modality."""

    modality = Modality(
        name="test_artifacts",
        label="Test: artifacts",
        description="Returns a box as a 3D model, an image and a JSON.",
        stages=(StageSpec("measure", "Measure"),),
        catalogue={"test_points": BiomarkerSpec("test_points", "Points", "test", "points", "test")},
            )

    def analyze(self, context):
        from modalities.results import Artifact

        from .glb import box_glb

        with context.stage("measure"):
            points = ARTIFACT_RUN["points"]
            return AnalysisResult(
                method_version=ARTIFACT_RUN["method_version"],
                score=Score(points, SLEEP_SCORE),
                risk_level="low",
                biomarkers={"test_points": points},
                explanation_summary="a box",
                artifacts=[
                    # Textured, as a scan an organization keeps textures of: the viewer's CSP test loads it.
                    Artifact(
                        "scan-viewer.glb", "viewer", "model/gltf-binary", box_glb(texture_png=still_png()),
                        label="Box with rings",
                    ),
                    Artifact("scan.glb", "model", "model/gltf-binary", box_glb(0.5)),
                    Artifact("slices.png", "image", "image/png", still_png(), label="Slices"),
                    Artifact("measurements.json", "data", "application/json", b'{"points": %d}' % points),
                ],
            )
