"""The chest X-ray analyzer: a de-identified radiograph in; image quality, the model's probability of an
abnormal film and a Grad-CAM heatmap out.

Inputs and their checks: ``dicom`` (what is accepted, de-identification before storage), ``suitability`` (is a
PNG/JPEG plausibly a chest radiograph: refused at upload and again here when it is not). Decoding, windowing and
quality: ``image``. The score and its reading at the model version's operating point: ``rule`` (documented
there, and in README). Text: ``explain``. The biomarkers: ``catalogue``.

With no active model for radiology (platform-wide or the organization's override) the assessment fails with a
reason that says so: results without the model would be quality measures only, which a clinician could take for
a read of the image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging

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
from ..results import Measurement, NotApplicable
from . import deidentify, dicom, explain, image, rule, suitability
from .catalogue import CATALOGUE, MODEL_LABELS, NORMAL_LABEL, probability_biomarker
from .explain import MIN_RMS_CONTRAST

logger = logging.getLogger(__name__)

METHOD_VERSION = "radiology 1.1.0"
MODALITY = "radiology"
NO_MODEL = "No active model for radiology: an administrator must activate one in the model registry."
# The heatmap overlay is an explanation, not the clinical image (which stays downloadable at full size):
# Grad-CAM's 16x16 map needs no more than 768 px, and PNG-encoding a noisy 1024 px overlay costs ~1 s here.
OVERLAY_SIDE = 768


def _uid_key() -> bytes:
    """The HMAC key for replacement UIDs: derived from the server secret, separated from its other uses."""
    from django.conf import settings

    return hashlib.sha256(b"medilens:dicom-uid:" + settings.SECRET_KEY.encode()).digest()


@register
class RadiologyAnalyzer(Analyzer):
    modality = Modality(
        name=MODALITY,
        label="Chest X-ray",
        description=(
            "Frontal chest radiograph (DICOM CR/DX, PNG or JPEG): DICOM de-identified before storage, windowing, "
            "image quality, model probabilities with a Grad-CAM heatmap."
        ),
        stages=(
            StageSpec("read", "Read the radiograph"),
            StageSpec("window", "Windowing"),
            StageSpec("quality", "Image quality checks"),
            StageSpec("inference", "Model inference"),
            StageSpec("explain", "Heatmap (Grad-CAM)"),
        ),
        catalogue=CATALOGUE,
        queue="inference",
        accepted_types={"application/dicom": "dcm", "image/png": "png", "image/jpeg": "jpg"},
        requires_files=True,
        # Flat-panel chest detectors reach about 4300 x 4300 pixels (18.5 M); 25 M leaves room, no more.
        max_pixels=25_000_000,
        deadline_seconds=180,
        no_confidence_reason="Not given: the model's outputs are not calibrated probabilities",
        demo_module="modalities.radiology.demo",
    )

    # --- before storage ---------------------------------------------------------------------------------
    def prepare_files(self, files: list) -> list:
        """One radiograph per assessment. A DICOM file is checked (modality, view, burned-in annotation,
        size, decodable pixels) and replaced by its de-identified copy; a PNG/JPEG (already stripped of
        metadata by the upload layer) is checked for size, content and plausibility as a chest radiograph
        (``suitability``) and stored as it is."""
        if len(files) != 1:
            raise InputError(
                {"files": f"Upload exactly one chest radiograph (DICOM, PNG or JPEG); {len(files)} files were sent."}
            )
        item = files[0]
        item.content.seek(0)
        data = item.content.read()
        item.content.seek(0)
        if item.content_type == "application/dicom":
            return [_deidentified(item, data, max_pixels=self.modality.max_pixels)]
        name = item.original_filename
        try:
            pixels, _ = image.picture_array(data)
            colour = suitability.picture_colourfulness(data)
        except (OSError, ValueError, SyntaxError):
            raise InputError({"files": f"{name}: the image cannot be decoded (truncated or corrupt)."}) from None
        height, width = pixels.shape
        dicom.check_dimensions(width, height, name=name, max_pixels=self.modality.max_pixels)
        _refuse_blank(pixels, name)
        refusal = suitability.assess(pixels, colour=colour).refusal()
        if refusal:
            raise InputError({"files": f"{name}: {refusal}"})
        return files

    # --- analysis ---------------------------------------------------------------------------------------
    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        with context.stage("read"):
            if len(context.files) != 1:
                raise AnalysisError(f"This analysis reads one radiograph; the assessment has {len(context.files)}.")
            stored = context.files[0]
            with stored.open() as handle:
                data = handle.read()
            radiograph = image.load(data, stored.content_type, max_pixels=self.modality.max_pixels)
            if radiograph.stored.min() == radiograph.stored.max():
                raise image.blank_image(radiograph)
        with context.stage("window"):
            shown = image.display(radiograph)
        with context.stage("quality"):
            checked = _check_picture(radiograph, data)
            quality = image.measure_quality(radiograph, shown)
            if quality.rms_contrast < MIN_RMS_CONTRAST:
                raise AnalysisError(
                    f"The image has almost no contrast (RMS contrast {quality.rms_contrast:.3f} after windowing; "
                    f"at least {MIN_RMS_CONTRAST} is needed, MediLens's own limit): it is blank, saturated, or its "
                    "window excludes the anatomy. Check the export from the imaging system."
                )
        with context.stage("inference"):
            from .. import runtime

            version = runtime.active_model(MODALITY, context.organization_id)
            if version is None:
                raise AnalysisError(NO_MODEL)
            model = runtime.load(version)
            probabilities = model.predict(shown.image)
        with context.stage("explain"):
            label = rule.explained_label(probabilities)
            heat = model.saliency(shown.image, label)
            overlay = runtime.heatmap_overlay_png(
                image.shrink(shown.image, OVERLAY_SIDE), image.shrink(heat, OVERLAY_SIDE), max_side=OVERLAY_SIDE
            )
        return _result(radiograph, shown, quality, checked, model, probabilities, label, overlay)


def _deidentified(item, data: bytes, *, max_pixels: int):
    """A DICOM upload checked (modality, view, burned-in annotation, size, decodable pixels) and replaced by its
    de-identified copy."""
    name = item.original_filename
    try:
        checked = dicom.check(dicom.read(data, name=name), name=name, max_pixels=max_pixels)
        _refuse_blank(checked.pixels, name)
        clean = deidentify.deidentify(checked.dataset, key=_uid_key())
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - malformed values (e.g. Rows "abc") in hostile files: a 400
        logger.warning("a DICOM upload could not be checked or de-identified", exc_info=True)
        raise InputError({"files": f"{name}: the DICOM file is malformed and cannot be read."}) from None
    return dataclasses.replace(
        item,
        extension="dcm",
        size=len(clean),
        sha256_stored=hashlib.sha256(clean).hexdigest(),
        content=io.BytesIO(clean),
    )


def _check_picture(radiograph: image.Radiograph, data: bytes) -> suitability.Suitability | None:
    """The upload's check of a PNG/JPEG, again on the stored file (stored before the check existed, or
    reaching the worker another way): a failed assessment with the reason, never a score."""
    if radiograph.source == "dicom":
        return None
    checked = suitability.assess(radiograph.stored, colour=suitability.picture_colourfulness(data))
    refusal = checked.refusal()
    if refusal:
        raise AnalysisError(refusal[:1].upper() + refusal[1:])
    return checked


def _refuse_blank(pixels, name: str) -> None:
    if pixels.size and pixels.min() == pixels.max():
        raise InputError(
            {"files": f"{name}: the image is blank (every pixel has the value {pixels.flat[0]}); nothing to analyse."}
        )


def _model_facts(model) -> dict:
    version = model.version
    facts = {
        "id": version.pk,
        "name": version.name,
        "version": version.version,
        "architecture": version.architecture,
        "is_reference": bool(version.is_reference),
        "intended_use": version.intended_use,
        "labels": list(model.labels),
        "input_spec": model.input_spec,
    }
    if version.is_reference:
        facts["label"] = rule.REFERENCE_LABEL
    return facts


def _result(radiograph, shown, quality, checked, model, probabilities, label, overlay) -> AnalysisResult:
    version = model.version
    model_name = f"{version.name} {version.version}"
    reading = rule.read(probabilities, version)
    measured = {
        "black_clipping": quality.black_clipping,
        "white_clipping": quality.white_clipping,
        "rms_contrast": quality.rms_contrast,
    }
    if quality.deviation_index is not None:
        measured["deviation_index"] = quality.deviation_index
    measured.update({probability_biomarker(name): p for name, p in probabilities.items() if name in MODEL_LABELS})
    unlisted = {name: round(p, 4) for name, p in probabilities.items() if name not in MODEL_LABELS}
    notes = [explain.reference_note(model_name)] if version.is_reference else []
    notes += ([explain.INPUT_CHECK_NOTE] if checked is not None else []) + explain.quality_notes(quality, radiograph)
    details = {
        "model_name": model_name + (f" ({rule.REFERENCE_LABEL})" if version.is_reference else ""),
        "abnormal_probability": reading.abnormal if reading else None,
        "decision_threshold": reading.threshold if reading else None,
        "decision_threshold_stated": reading.threshold_stated if reading else None,
        "explained_label": label,
        "model": _model_facts(model),
        "probabilities": {name: round(p, 4) for name, p in probabilities.items()},
        "unlisted_probabilities": unlisted,
        "biomarker_sources": {
            name: (model_name if name.endswith("_probability") else CATALOGUE[name].source) for name in measured
        },
        "image": radiograph.details,
        "window": shown.window,
        "quality": dataclasses.asdict(quality),
        "input_check": checked.as_details() if checked is not None else None,
    }
    not_applicable, measurements, withheld = [], [], ""
    if reading is None:
        withheld = (
            f"Model {model_name} has no '{NORMAL_LABEL}' output, so it gives no probability of an abnormal film; "
            "its outputs are reported as probabilities."
        )
        not_applicable.append(NotApplicable("p_abnormal", "Probability of an abnormal film", withheld))
    else:
        measurements.append(
            Measurement(
                "decision_threshold",
                "Decision threshold (the model version's operating point)"
                if reading.threshold_stated
                else "Decision threshold (MediLens's default: the version states none)",
                round(100.0 * reading.threshold, rule.SCORE_DECIMALS),
                "%",
                rule.SCORE_DECIMALS,
            )
        )
    return AnalysisResult(
        method_version=f"{METHOD_VERSION}; model {model_name}",
        score=reading.score if reading else None,
        score_withheld=withheld,
        risk_level=reading.level if reading else "",
        confidence=None,  # rule.py: softmax outputs are not calibrated confidences
        recommendations=explain.recommendations(reading, quality, model_name, version.is_reference, label),
        biomarkers=rounded(CATALOGUE, measured),
        measurements=measurements,
        not_applicable=not_applicable,
        notes=notes,
        details=details,
        explanation_summary=explain.summary(reading, probabilities, label, model_name, version.is_reference, notes),
        contributions=rule.contributions(probabilities, model_name) if reading else [],
        explanation_image_png=overlay,
        model_version_id=version.pk,
        spec_overrides=rule.decision_point_specs(reading),
    )
