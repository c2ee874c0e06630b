"""The dermatology analyzer: one photo of one skin lesion in; its ABCD(E) features, the Stolz total
dermoscopy score where it applies (else the clinical ABCD(E) checklist) as the headline, and a registered
model's output when one is active, out.

The pieces: ``photo`` (decoding and the checks that refuse an unusable photo), ``segmentation`` (finding
the lesion), ``measurement`` (A, B, C, D), ``evolution`` (E), ``rule`` (the TDS and the checklist, with
their sources), ``explain`` and ``record`` (what is read and stored), ``model`` (an active model), and
``inputs``. ``synthetic`` makes the demo photos and is imported only when the demo is seeded
(``modalities.registry.demo_cases``).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from ..base import (
    AnalysisContext,
    AnalysisError,
    AnalysisResult,
    Analyzer,
    InputError,
    Modality,
    StageSpec,
    no_history,
    rounded,
)
from ..inputs import validate
from ..registry import register
from . import explain, model, record, rule
from . import inputs as lesion_inputs
from .catalogue import CATALOGUE, METHOD_VERSION
from .evolution import evolution
from .measurement import feature_values, measure_features
from .photo import PhotoProblem, decode_photo
from .segmentation import segment_lesion


@register
class DermatologyAnalyzer(Analyzer):
    modality = Modality(
        name="dermatology",
        label="Dermatology (skin lesion)",
        description=(
            "One photo of one skin lesion: segmentation and the ABCD(E) features; the Stolz total dermoscopy "
            "score for dermoscopy images with the clinician's structure count; a registered model when active."
        ),
        stages=(
            StageSpec("decode", "Read the photo"),
            StageSpec("segment", "Find the lesion"),
            StageSpec("features", "ABCD(E) features"),
            StageSpec("model", "Model inference (when a model is active)"),
            StageSpec("explain", "Score and explanation"),
        ),
        catalogue=CATALOGUE,
        # The inference queue: an organization may activate a torch model for this modality at any time, and
        # which assessment will run one is known only inside the analysis; torch belongs on the inference
        # workers (threads set, one task at a time) so that a slow model never starves the light queue.
        # Without a model the analysis takes well under a second, so sharing that queue costs little.
        queue="inference",
        accepted_types={"image/jpeg": "jpg", "image/png": "png"},
        requires_files=True,
        max_pixels=50_000_000,  # a 48-megapixel phone photo; decoded at a reduced scale for the analysis
        deadline_seconds=120,
        no_confidence_reason="Not applicable: the ABCD checklist and the Stolz score are rules, not probabilities",
        input_schema=lesion_inputs.DermatologyInputs,
        demo_module="modalities.dermatology.synthetic",
    )

    def validate_inputs(self, *, inputs: Any, patient, history=no_history) -> dict[str, Any]:
        """The schema's inputs; with a lesion identifier, the latest earlier measurement of that lesion."""
        return lesion_inputs.with_history(validate(lesion_inputs.DermatologyInputs, inputs, patient), history)

    def prepare_files(self, files: list) -> list:
        """One photo of one lesion; one that is black, blank, blown out, greyscale or tiny is refused here."""
        if len(files) != 1:
            raise InputError({"files": f"Upload exactly one photo of one lesion (got {len(files)} files)."})
        upload = files[0]
        upload.content.seek(0)
        try:
            decode_photo(upload.content, long_side=256)
        except PhotoProblem as problem:
            raise InputError({"files": f"{upload.original_filename}: {problem}"}) from None
        finally:
            upload.content.seek(0)
        return files

    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        given = context.inputs
        with context.stage("decode"):
            photo = _decode(context.files)
        with context.stage("segment"):
            try:
                segmentation = segment_lesion(photo.rgb)
            except PhotoProblem as problem:
                raise AnalysisError(f"The lesion could not be measured: {problem}") from None
        with context.stage("features"):
            features = measure_features(photo, segmentation, given.get("pixels_per_mm"))
            # The rules read the values as they are stored and shown (a B of 1.104 shown as 1.10 is not > 1.10).
            biomarkers = rounded(CATALOGUE, feature_values(features))
            evolved = evolution(given["previous"], _current(biomarkers, features)) if given.get("previous") else None
            if evolved:
                biomarkers.update(_evolution_values(evolved))
        with context.stage("model"):
            ran = model.run_model(self.modality.name, context.organization_id, photo.rgb)
        with context.stage("explain"):
            return _result(given, photo, segmentation, features, biomarkers, evolved, ran)


def _decode(files):
    if len(files) != 1:
        raise AnalysisError(f"Dermatology needs exactly one photo; this assessment has {len(files)}.")
    with files[0].open() as stream:
        data = stream.read()
    try:
        return decode_photo(io.BytesIO(data))
    except PhotoProblem as problem:
        raise AnalysisError(f"The photo cannot be analysed: {problem}") from None


def _current(biomarkers: dict[str, float], features) -> dict[str, Any]:
    """This photo's measurements in the form of ``previous``, at their stored precision."""
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "diameter_mm": biomarkers.get("lesion_diameter"),
        "area_mm2": biomarkers.get("lesion_area"),
        "diameter_px": biomarkers["lesion_diameter_pixels"],
        "area_px": features.area_px,
        "colour_count": int(biomarkers["colour_count"]),
        "asymmetry": int(biomarkers["lesion_asymmetry_score"]),
    }


def _evolution_values(evolved: dict[str, Any]) -> dict[str, float]:
    values = {}
    if evolved["diameter_change_mm"] is not None:
        values["lesion_diameter_change"] = evolved["diameter_change_mm"]
    if evolved["area_change_percent"] is not None:
        values["lesion_area_change"] = evolved["area_change_percent"]
    return rounded(CATALOGUE, values)


def _result(given, photo, segmentation, features, biomarkers, evolved, ran) -> AnalysisResult:
    import numpy as np

    checklist = rule.abcd_checklist(
        asymmetry_score=int(biomarkers["lesion_asymmetry_score"]),
        irregularity=biomarkers["border_irregularity_index"],
        colour_count=int(biomarkers["colour_count"]),
        diameter_mm=biomarkers.get("lesion_diameter"),
        evolving=evolved["evolving"] if evolved else None,
    )
    withheld = rule.tds_withheld(given.get("image_type"), given.get("dermoscopic_structures"))
    tds = None
    if withheld is None:
        tds = rule.tds_record(
            asymmetry=int(biomarkers["lesion_asymmetry_score"]),
            border=int(biomarkers["border_abrupt_segments"]),
            colours=int(biomarkers["colour_count"]),
            structures=int(given["dermoscopic_structures"]),
        )
        biomarkers["total_dermoscopy_score"] = round(tds["value"], CATALOGUE["total_dermoscopy_score"].decimals)
    decision = rule.verdict(tds=tds, checklist=checklist, evolving=bool(evolved and evolved["evolving"]))
    base_image = ran.base_image
    if base_image is None:
        base_image = (np.clip(photo.rgb, 0, 1) * 255).astype(np.uint8)
    pixels_per_mm = given.get("pixels_per_mm")
    return AnalysisResult(
        method_version=METHOD_VERSION,
        score=decision.score,
        risk_level=decision.level,
        confidence=None,  # no method here yields a calibrated one
        recommendations=explain.recommendations(decision.level, tds, evolved, pixels_per_mm),
        biomarkers=biomarkers,
        measurements=explain.measurements(checklist=checklist, tds=tds, evolved=evolved),
        not_applicable=explain.not_applicable(
            tds_withheld=withheld, scaled=bool(pixels_per_mm), evolved=evolved, lesion_id=given.get("lesion_id")
        ),
        notes=explain.notes(biomarkers=biomarkers, verdict_notes=decision.notes, model=ran.record),
        details=record.details(
            inputs=given,
            photo=photo,
            segmentation=segmentation,
            features=features,
            biomarkers=biomarkers,
            evolved=evolved,
            tds=tds,
            tds_withheld=withheld,
            checklist=checklist,
            basis=decision.basis,
            model=ran.record,
        ),
        explanation_summary=explain.summary(
            features=features, biomarkers=biomarkers, tds=tds, checklist=checklist, evolved=evolved, model=ran.record
        ),
        contributions=decision.contributions,
        explanation_image_png=explain.overlay(base_image, features, biomarkers),
        model_version_id=ran.version_id,
    )
