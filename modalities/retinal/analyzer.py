"""The retinal analyzer: a fundus photograph in; vessel density, vessel tortuosity, the optic disc's position, a
vessel overlay and MediLens's own screening points out.

The method is in the modules, stage by stage: ``field`` (decoding, field of view, working size), ``quality``,
``vessels``, ``measure`` (tortuosity, optic disc), ``rule`` (the screening points, MediLens's own), ``explain``
(overlay, summary, recommendations). ``suitability`` refuses what is not a fundus photograph (no circular field of
view and no optic disc) at upload and again here. ``synthetic`` (demo photos) is imported by
``modalities.registry.demo_cases`` only.

Not measured: the arteriole-to-venule calibre ratio (CRAE/CRVE by the Parr-Hubbard / Knudtson formulas). It needs
every vessel in the zone 0.5-1 disc diameter from the disc margin classified as artery or vein and its width
measured to a fraction of a pixel; this method classifies nothing, and its segmented width is off by up to 30-70%
for vessels under 4 px (see the tests). A ratio built on that would be a number without a meaning, so it is left
out and the result says why. ``confidence`` is None: these are measurements, not a model's probability.
"""

from __future__ import annotations

import io

from .. import imaging
from ..base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    InputError,
    Modality,
    StageSpec,
    rounded,
)
from ..registry import register
from ..results import Measurement, NotApplicable, Score
from . import explain, rule, suitability
from .catalogue import CALIBRE_NOT_MEASURED, CATALOGUE
from .field import MAX_PIXELS, MIN_SIDE, black_problem, working_image
from .measure import DISC_MIN_CONTRAST, MIN_SEGMENT_LENGTH, locate_disc, tortuosity
from .quality import assess_quality
from .vessels import density as vessel_density
from .vessels import segment_vessels

METHOD_VERSION = "retinal-frangi-1.1"


@register
class RetinalAnalyzer(Analyzer):
    modality = Modality(
        name="retinal",
        label="Retinal photo",
        description=(
            "Vessel density, vessel tortuosity and optic-disc location from a colour fundus photograph "
            "(Frangi vesselness at a 1024 px working size)."
        ),
        stages=(
            StageSpec("image", "Read the photograph"),
            StageSpec("field", "Find the field of view"),
            StageSpec("quality", "Check focus and illumination"),
            StageSpec("vessels", "Segment the vessels (Frangi vesselness)"),
            StageSpec("measures", "Vessel density, tortuosity, optic disc"),
            StageSpec("explain", "Vessel overlay and summary"),
        ),
        catalogue=CATALOGUE,
        accepted_types={"image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif"},
        requires_files=True,
        max_pixels=MAX_PIXELS,
        deadline_seconds=120,
        no_confidence_reason="Not applicable: a rule on measured vessel and quality features, not a probability",
        demo_module="modalities.retinal.synthetic",
    )

    def prepare_files(self, files: list) -> list:
        """One photograph; refused here (400, nothing stored) when too small, black, or not a fundus photo."""
        from PIL import Image

        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one fundus photograph (got {len(files)} files)."})
        upload = files[0]
        name = upload.original_filename
        upload.content.seek(0)
        try:
            with Image.open(upload.content) as image:
                width, height = image.size
            if min(width, height) < MIN_SIDE:
                raise InputError(
                    {
                        "files": f"{name}: the photo is {width}x{height} pixels; fundus analysis needs at least "
                        f"{MIN_SIDE} pixels on the shorter side (the smallest vessels must be resolved)."
                    }
                )
            upload.content.seek(0)
            small = suitability.thumbnail(upload.content)
        except InputError:
            raise
        except (OSError, SyntaxError, ValueError):
            raise InputError({"files": f"{name}: the image cannot be decoded."}) from None
        finally:
            upload.content.seek(0)
        problem = black_problem(small) or suitability.examine(small).refusal()
        if problem:
            raise InputError({"files": f"{name}: {problem}"})
        return files

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        if len(context.files) != 1:
            raise AnalysisError(f"This analysis reads one fundus photograph; the assessment has {len(context.files)}.")
        with context.stage("image"):
            stored = context.files[0]
            with stored.open() as stream:
                data = stream.read()
            if not data:
                raise AnalysisError(f"The stored file {stored.filename} is empty.")
            rgb = imaging.decode_rgb(data, max_pixels=self.modality.max_pixels)
            small = suitability.thumbnail(io.BytesIO(data))  # the upload's own check, on the same bytes
            del data
        with context.stage("field"):
            work = working_image(rgb)
            del rgb
            evidence = suitability.examine(small)
            refusal = evidence.refusal()
            if refusal:
                raise AnalysisError(refusal[:1].upper() + refusal[1:] + ".")
        with context.stage("quality"):
            quality = assess_quality(work)
        with context.stage("vessels"):
            vessels = segment_vessels(work)
        with context.stage("measures"):
            density = vessel_density(work, vessels)
            tortuosity_mean, segments, ratios = tortuosity(vessels)
            disc = locate_disc(work)
        with context.stage("explain"):
            measured = {"vessel_density": density}
            if tortuosity_mean is not None:
                measured["vessel_tortuosity"] = tortuosity_mean
            return _result(work, quality, vessels, rounded(CATALOGUE, measured), segments, ratios, disc, evidence)


def _details(work, quality, segments: int, ratios: list[float], disc_position, disc, evidence) -> dict:
    """The raw record (API only): quality figures, geometry, the input check."""
    width, height = work.original_size
    return {
        "image_quality": quality.grade,
        "focus_variance_of_laplacian": round(quality.focus, 2),
        "field_contrast": round(quality.contrast, 2),
        "field_brightness": round(quality.brightness, 1),
        "underexposed_percent": round(100 * quality.dark_fraction, 2),
        "overexposed_percent": round(100 * quality.bright_fraction, 2),
        "vessel_tortuosity_segments": segments,
        "vessel_tortuosity_median": round(sorted(ratios)[len(ratios) // 2], 4) if ratios else None,
        "optic_disc_x": disc_position[0] if disc_position else None,
        "optic_disc_y": disc_position[1] if disc_position else None,
        "optic_disc_contrast": round(float(disc.contrast), 3) if disc is not None else None,
        "field_fraction_percent": round(100 * work.field_fraction, 1),
        "analysis_region_px": int(work.region.sum()),
        "working_scale": round(work.scale, 6),
        "working_width_px": int(work.rgb.shape[1]),
        "working_height_px": int(work.rgb.shape[0]),
        "original_width_px": width,
        "original_height_px": height,
        "red_free_photo": work.greyscale,
        "input_check": evidence.as_details(),
    }


def _result(work, quality, vessels, values, segments, ratios, disc, evidence) -> AnalysisResult:
    density, tortuosity_mean = values["vessel_density"], values.get("vessel_tortuosity")
    not_applicable = [NotApplicable("arteriole_venule_ratio", "Arteriole-to-venule ratio", CALIBRE_NOT_MEASURED)]
    if tortuosity_mean is None:
        not_applicable.append(
            NotApplicable(
                "vessel_tortuosity",
                CATALOGUE["vessel_tortuosity"].label,
                f"No vessel segment of at least {MIN_SEGMENT_LENGTH:g} px between branch points was found.",
            )
        )
    width, height = work.original_size
    measurements = [Measurement("image_quality", "Image quality", quality.grade)]
    disc_position = None
    if disc is not None:
        x, y = work.to_original(disc.x, disc.y)
        disc_position = (round(float(x) / width, 4), round(float(y) / height, 4))
        measurements += [
            Measurement("optic_disc_x", "Optic disc centre, across (fraction of the width)", disc_position[0], "", 2),
            Measurement("optic_disc_y", "Optic disc centre, down (fraction of the height)", disc_position[1], "", 2),
        ]
    else:
        not_applicable.append(
            NotApplicable(
                "optic_disc",
                "Optic disc position",
                f"No region of the field is {DISC_MIN_CONTRAST:g} times brighter than its median: the disc may be "
                "outside the photo or the exposure flattens it.",
            )
        )
    measurements.append(Measurement("vessel_tortuosity_segments", "Vessel segments measured", segments, "", 0))
    score, withheld, level, contributions = None, "", "", []
    if quality.problems:
        withheld = "Not scored: " + "; ".join(quality.problems) + "."
    else:
        points, level, contributions = rule.risk(density=density, tortuosity_mean=tortuosity_mean)
        score = Score(points, rule.SCALE)
    return AnalysisResult(
        method_version=METHOD_VERSION,
        score=score,
        score_withheld=withheld,
        risk_level=level,
        confidence=None,
        recommendations=explain.recommendations(
            quality,
            density=density,
            tortuosity=tortuosity_mean,
            points={item.factor: item.change for item in contributions},
        ),
        biomarkers=values,
        measurements=measurements,
        not_applicable=not_applicable,
        notes=explain.notes(work),
        details=_details(work, quality, segments, ratios, disc_position, disc, evidence),
        explanation_summary=explain.summary(
            density=density, tortuosity=tortuosity_mean, segments=segments, disc_position=disc_position, quality=quality
        ),
        contributions=contributions,
        explanation_image_png=explain.overlay_png(work, vessels, disc),
    )
