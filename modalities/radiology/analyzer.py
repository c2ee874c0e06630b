"""The chest X-ray analyzer: a de-identified radiograph in; image quality, model probabilities and a
Grad-CAM heatmap out.

Risk rule (also in README): the risk score is 100 x P(abnormal), where P(abnormal) = 1 - P(no_finding)
from the active model's softmax output (equal to the sum of its finding labels' probabilities). The level
is "high" when P(abnormal) reaches the model's decision threshold (``validation_metrics["threshold"]`` of
the model version: the operating point at which its sensitivity and specificity were measured; 0.5 when
the version states none) and "low" below it. Two levels only: a classifier's single operating point
supports no finer grading. A model without a "no_finding" label gives no risk score (its probabilities
are still reported). Confidence is None: softmax outputs are not calibrated probabilities unless shown to
be (Guo et al., ICML 2017), and no registered model reports a calibration measure, so the model's top
probability is not offered as a confidence.

With no active model for radiology (platform-wide or the organization's override) the assessment fails
with a reason that says so: results without the model would be quality measures only, which a clinician
could take for a read of the image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from typing import Any

from ..base import AnalysisContext, AnalysisError, AnalysisResult, Analyzer, BiomarkerSpec, InputError, StageSpec
from ..registry import register
from . import demo, dicom, image

logger = logging.getLogger(__name__)

METHOD_VERSION = "radiology 1.0.0"
MODALITY = "radiology"
NO_MODEL = "No active model for radiology: an administrator must activate one in the model registry."
REFERENCE_LABEL = "reference model, not for clinical use"
NORMAL_LABEL = "no_finding"
DEFAULT_THRESHOLD = 0.5

# Quality thresholds: MediLens heuristics, not published limits (no reference range exists for these
# measures on chest radiographs). A real radiograph's display image has an RMS contrast around 0.15-0.3.
MIN_RMS_CONTRAST = 0.02  # below: nothing to read (refused)
LOW_RMS_CONTRAST = 0.08  # below: warned
CLIPPING_WARNING = 20.0  # % of pixels at one end of the value range: warned
# The heatmap overlay is an explanation, not the clinical image (which stays downloadable at full size):
# Grad-CAM's 16x16 map needs no more than 768 px, and PNG-encoding a noisy 1024 px overlay costs ~1 s here.
OVERLAY_SIDE = 768

TG116 = (
    "IEC 62494-1:2008 (DI = 10 log10(EI / EI_T)); ranges from AAPM TG-116, Shepard et al., Med Phys "
    "2009;36:2898, Table II (DI within +/-1 acceptable, below -3 repeat)"
)
CLIPPING_SOURCE = (
    "Share of pixels at the end of the stored value range (saturated detector or export); no established "
    "reference range (MediLens warns above 20 %, a heuristic)"
)
CONTRAST_SOURCE = (
    "RMS contrast: standard deviation of the normalised display intensities (Peli, J Opt Soc Am A "
    "1990;7:2032); no established reference range for chest radiographs (MediLens refuses below 0.02 and "
    "warns below 0.08, heuristics)"
)
MODEL_SOURCE = (
    "Softmax output of the active radiology model; the model name and version are recorded with the result "
    "(results.model). 0.5 marks a two-class model's decision point, not a clinical reference range; "
    "P(no finding) is flagged at 1 - the version's own decision threshold when it states one"
)

# Labels the catalogue knows: the reference model's, and the 14 CheXpert observations (Irvin et al., AAAI
# 2019) for models staff bring. A model's other labels are reported in results, not as biomarkers.
MODEL_LABELS = {
    "no_finding": "No finding",
    "opacity": "Opacity",
    "lung_opacity": "Lung opacity",
    "enlarged_cardiomediastinum": "Enlarged cardiomediastinum",
    "cardiomegaly": "Cardiomegaly",
    "lung_lesion": "Lung lesion",
    "edema": "Edema",
    "consolidation": "Consolidation",
    "pneumonia": "Pneumonia",
    "atelectasis": "Atelectasis",
    "pneumothorax": "Pneumothorax",
    "pleural_effusion": "Pleural effusion",
    "pleural_other": "Pleural other",
    "fracture": "Fracture",
    "support_devices": "Support devices",
}


def probability_biomarker(label: str) -> str:
    return f"{label}_probability"


CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "deviation_index",
            "Exposure deviation index (DI)",
            "image_quality",
            "",
            TG116,
            reference_low=-1.0,
            reference_high=1.0,
            critical_low=-3.0,
        ),
        BiomarkerSpec("black_clipping", "Pixels clipped to black", "image_quality", "%", CLIPPING_SOURCE),
        BiomarkerSpec("white_clipping", "Pixels clipped to white", "image_quality", "%", CLIPPING_SOURCE),
        BiomarkerSpec("rms_contrast", "RMS contrast", "image_quality", "", CONTRAST_SOURCE),
        *[
            BiomarkerSpec(
                probability_biomarker(label),
                f"P({text.lower()})",
                "model_output",
                "probability",
                MODEL_SOURCE,
                # 0.5 itself is on the abnormal side, as the level's "P(abnormal) >= threshold"
                **(
                    {"reference_low": 0.5, "abnormal_at": frozenset({"reference_low"})}
                    if label == NORMAL_LABEL
                    else {"reference_high": 0.5, "abnormal_at": frozenset({"reference_high"})}
                ),
            )
            for label, text in MODEL_LABELS.items()
        ],
    ]
}


def _uid_key() -> bytes:
    """The HMAC key for replacement UIDs: derived from the server secret, separated from its other uses."""
    from django.conf import settings

    return hashlib.sha256(b"medilens:dicom-uid:" + settings.SECRET_KEY.encode()).digest()


def _decision_point_specs(risk: dict[str, Any] | None) -> dict[str, BiomarkerSpec]:
    """P(no_finding) flagged at the model version's own operating point: the level is "high" when
    P(abnormal) = 1 - P(no_finding) >= threshold, so P(no_finding) <= 1 - threshold is "low" (and the stored
    range says 1 - threshold), never a fixed 0.5 that would contradict the level."""
    if risk is None or risk["threshold"] == DEFAULT_THRESHOLD:
        return {}
    name = probability_biomarker(NORMAL_LABEL)
    return {
        name: dataclasses.replace(
            CATALOGUE[name],
            reference_low=round(1.0 - risk["threshold"], 4),
            abnormal_at=frozenset({"reference_low"}),
        )
    }


def risk_from(probabilities: dict[str, float], validation_metrics: dict | None) -> dict[str, Any] | None:
    """The documented rule (module docstring): score, level, P(abnormal) and the threshold used."""
    if NORMAL_LABEL not in probabilities:
        return None
    threshold = (validation_metrics or {}).get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        threshold = DEFAULT_THRESHOLD
    abnormal = min(max(1.0 - probabilities[NORMAL_LABEL], 0.0), 1.0)
    return {
        "score": round(100.0 * abnormal, 1),
        "level": "high" if abnormal >= threshold else "low",
        "abnormal_probability": abnormal,
        "threshold": float(threshold),
    }


def explained_label(probabilities: dict[str, float]) -> str:
    """The label the heatmap explains: the most probable finding (not "no_finding"): the clinician's
    question is where the model sees something, including when it ends up below the threshold."""
    findings = {label: p for label, p in probabilities.items() if label != NORMAL_LABEL}
    candidates = findings or probabilities
    return max(candidates, key=lambda label: candidates[label])


@register
class RadiologyAnalyzer(Analyzer):
    name = MODALITY
    no_confidence_reason = "Not given: the model's outputs are not calibrated probabilities"
    label = "Chest X-ray"
    description = (
        "Frontal chest radiograph (DICOM CR/DX, PNG or JPEG): DICOM de-identified before storage, windowing, "
        "image quality, model probabilities with a Grad-CAM heatmap."
    )
    queue = "inference"
    accepted_types = {"application/dicom": "dcm", "image/png": "png", "image/jpeg": "jpg"}
    requires_files = True
    # Flat-panel chest detectors reach about 4300 x 4300 pixels (18.5 M); 25 M leaves room, no more.
    max_pixels = 25_000_000
    deadline_seconds = 180
    stages = (
        StageSpec("read", "Read the radiograph"),
        StageSpec("window", "Windowing"),
        StageSpec("quality", "Image quality checks"),
        StageSpec("inference", "Model inference"),
        StageSpec("explain", "Heatmap (Grad-CAM)"),
    )
    catalogue = CATALOGUE

    # --- before storage ---------------------------------------------------------------------------------
    def prepare_files(self, files: list) -> list:
        """One radiograph per assessment. A DICOM file is checked (modality, view, burned-in annotation,
        size, decodable pixels) and replaced by its de-identified copy; a PNG/JPEG (already stripped of
        metadata by the upload layer) is checked for size and content and stored as it is."""
        if len(files) != 1:
            raise InputError(
                {"files": f"Upload exactly one chest radiograph (DICOM, PNG or JPEG); {len(files)} files were sent."}
            )
        item = files[0]
        item.content.seek(0)
        data = item.content.read()
        item.content.seek(0)
        name = item.original_filename
        if item.content_type == "application/dicom":
            try:
                checked = dicom.check(dicom.read(data, name=name), name=name, max_pixels=self.max_pixels)
                _refuse_blank(checked.pixels, name)
                clean = dicom.deidentify(checked.dataset, key=_uid_key())
            except InputError:
                raise
            except Exception:  # noqa: BLE001 - malformed values (e.g. Rows "abc") in hostile files: a 400
                logger.warning("a DICOM upload could not be checked or de-identified", exc_info=True)
                raise InputError({"files": f"{name}: the DICOM file is malformed and cannot be read."}) from None
            return [
                dataclasses.replace(
                    item,
                    extension="dcm",
                    size=len(clean),
                    sha256_stored=hashlib.sha256(clean).hexdigest(),
                    content=io.BytesIO(clean),
                )
            ]
        try:
            pixels, _ = image.picture_array(data)
        except (OSError, ValueError, SyntaxError):
            raise InputError({"files": f"{name}: the image cannot be decoded (truncated or corrupt)."}) from None
        height, width = pixels.shape
        dicom.check_dimensions(width, height, name=name, max_pixels=self.max_pixels)
        _refuse_blank(pixels, name)
        return files

    # --- analysis ---------------------------------------------------------------------------------------
    def analyze(self, context: AnalysisContext) -> AnalysisResult:
        with context.stage("read"):
            if len(context.files) != 1:
                raise AnalysisError(f"This analysis reads one radiograph; the assessment has {len(context.files)}.")
            stored = context.files[0]
            with stored.open() as handle:
                data = handle.read()
            radiograph = image.load(data, stored.content_type, max_pixels=self.max_pixels)
            if radiograph.stored.min() == radiograph.stored.max():
                raise image.blank_image(radiograph)
        with context.stage("window"):
            shown = image.display(radiograph)
        with context.stage("quality"):
            quality = image.measure_quality(radiograph, shown)
            if quality.rms_contrast < MIN_RMS_CONTRAST:
                raise AnalysisError(
                    f"The image has almost no contrast (RMS contrast {quality.rms_contrast:.3f} after windowing; "
                    f"at least {MIN_RMS_CONTRAST} is needed): it is blank, saturated, or its window excludes "
                    "the anatomy. Check the export from the imaging system."
                )
            notes = _quality_notes(quality, radiograph)
        with context.stage("inference"):
            from .. import runtime

            version = runtime.active_model(MODALITY, context.organization_id)
            if version is None:
                raise AnalysisError(NO_MODEL)
            model = runtime.load(version)
            probabilities = model.predict(shown.image)
        with context.stage("explain"):
            label = explained_label(probabilities)
            heat = model.saliency(shown.image, label)
            overlay = runtime.heatmap_overlay_png(
                image.shrink(shown.image, OVERLAY_SIDE), image.shrink(heat, OVERLAY_SIDE), max_side=OVERLAY_SIDE
            )
        return self._result(radiograph, shown, quality, notes, model, probabilities, label, overlay)

    def _result(self, radiograph, shown, quality, notes, model, probabilities, label, overlay) -> AnalysisResult:
        version = model.version
        model_name = f"{version.name} {version.version}"
        risk = risk_from(probabilities, version.validation_metrics)
        biomarkers = {
            "black_clipping": round(quality.black_clipping, 3),
            "white_clipping": round(quality.white_clipping, 3),
            "rms_contrast": round(quality.rms_contrast, 4),
        }
        if quality.deviation_index is not None:
            biomarkers["deviation_index"] = round(quality.deviation_index, 2)
        unlisted = {}
        for name, probability in probabilities.items():
            if name in MODEL_LABELS:
                biomarkers[probability_biomarker(name)] = round(probability, 4)
            else:
                unlisted[name] = round(probability, 4)
        model_facts = {
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
            model_facts["label"] = REFERENCE_LABEL
            notes = [f"Model {model_name} is a {REFERENCE_LABEL}: it validates the pipeline only.", *notes]
        results: dict[str, Any] = {
            "model_name": model_name + (f" ({REFERENCE_LABEL})" if version.is_reference else ""),
            "abnormal_probability": round(risk["abnormal_probability"], 4) if risk else None,
            "decision_threshold": risk["threshold"] if risk else None,
            "explained_label": label,
            "model": model_facts,
            "probabilities": {name: round(p, 4) for name, p in probabilities.items()},
            "unlisted_probabilities": unlisted,
            "biomarker_sources": {
                name: (model_name if name.endswith("_probability") else CATALOGUE[name].source) for name in biomarkers
            },
            "image": radiograph.details,
            "window": shown.window,
            "quality": dataclasses.asdict(quality),
            "notes": notes,
        }
        if risk is None:
            results["not_applicable"] = {
                "abnormal_probability": f"model {model_name} has no '{NORMAL_LABEL}' output, so no risk score"
            }
        contributions = [
            {
                "factor": probability_biomarker(name) if name in MODEL_LABELS else name,
                "current_value": round(p, 4),
                "contribution_points": round(100.0 * p, 1),
            }
            for name, p in sorted(probabilities.items(), key=lambda item: -item[1])
            if name != NORMAL_LABEL
        ]
        return AnalysisResult(
            method_version=f"{METHOD_VERSION}; model {model_name}",
            risk_score=risk["score"] if risk else None,
            risk_level=risk["level"] if risk else "",
            confidence=None,  # see the module docstring: softmax outputs are not calibrated confidences
            recommendations=_recommendations(risk, quality, model_name, version.is_reference, label),
            results=results,
            biomarkers=biomarkers,
            explanation_summary=_summary(risk, probabilities, label, model_name, version.is_reference, notes),
            contributions=contributions,
            explanation_image_png=overlay,
            model_version_id=version.pk,
            spec_overrides=_decision_point_specs(risk),
        )

    def demo_cases(self):
        return demo.cases()


def _refuse_blank(pixels, name: str) -> None:
    if pixels.size and pixels.min() == pixels.max():
        raise InputError(
            {"files": f"{name}: the image is blank (every pixel has the value {pixels.flat[0]}); nothing to analyse."}
        )


def _quality_notes(quality: image.Quality, radiograph: image.Radiograph) -> list[str]:
    notes = []
    di = quality.deviation_index
    if di is not None:
        if di < -3:
            notes.append(f"Deviation index {di:.1f} is below -3: underexposed, repeat per AAPM TG-116.")
        elif di < -1:
            notes.append(f"Deviation index {di:.1f} is below -1: underexposed (AAPM TG-116), image may be noisy.")
        elif di > 1:
            notes.append(f"Deviation index {di:.1f} is above +1: overexposed (AAPM TG-116), check technique and dose.")
    if quality.black_clipping > CLIPPING_WARNING:
        notes.append(
            f"{quality.black_clipping:.0f} % of pixels are clipped to black: possible overexposure (burn-out) or "
            "heavy electronic masking."
        )
    if quality.white_clipping > CLIPPING_WARNING:
        notes.append(
            f"{quality.white_clipping:.0f} % of pixels are clipped to white: possible underexposure or saturation "
            "of dense regions."
        )
    if quality.rms_contrast < LOW_RMS_CONTRAST:
        notes.append(f"Low contrast (RMS contrast {quality.rms_contrast:.3f}): the image may be hard to read.")
    if radiograph.details.get("lossy_compression"):
        notes.append("The image was lossily compressed (JPEG or a lossy DICOM transfer syntax).")
    if radiograph.details.get("presentation_intent") == "FOR PROCESSING":
        notes.append(
            "The image is FOR PROCESSING (raw detector data, not processed for display); the model may read it "
            "differently from the FOR PRESENTATION images it expects."
        )
    if radiograph.source == "dicom" and not radiograph.details.get("view_position"):
        notes.append("The DICOM file does not state its view position; the model assumes a frontal view.")
    return notes


def _recommendations(risk, quality, model_name: str, is_reference: bool, label: str) -> list[dict]:
    source = f"Model {model_name}" + (f" ({REFERENCE_LABEL})" if is_reference else "")
    items = []
    if risk is not None and risk["level"] == "high":
        items.append(
            {
                "text": f"The model flags a possible {label.replace('_', ' ')} (P(abnormal) "
                f"{risk['abnormal_probability']:.2f} at threshold {risk['threshold']:.2f}); have the image read by a "
                "radiologist before acting on it.",
                "source": source,
            }
        )
    if quality.deviation_index is not None and quality.deviation_index < -3:
        items.append(
            {
                "text": "The exposure deviation index is below -3: consider repeating the exposure.",
                "source": "AAPM TG-116 (Shepard et al., Med Phys 2009;36:2898), Table II",
            }
        )
    if is_reference:
        items.append(
            {
                "text": "This result comes from a reference model that validates the pipeline; it is not for "
                "clinical use. Ask an administrator to activate a validated model.",
                "source": source,
            }
        )
    return items


def _summary(risk, probabilities, label, model_name: str, is_reference: bool, notes: list[str]) -> str:
    model = f"Model {model_name}" + (f" ({REFERENCE_LABEL})" if is_reference else "")
    parts = []
    if risk is not None:
        parts.append(
            f"{model} gives P(abnormal) {risk['abnormal_probability']:.2f} (threshold {risk['threshold']:.2f}): "
            f"risk score {risk['score']:.0f}, {risk['level']}."
        )
    else:
        parts.append(f"{model} gives: " + ", ".join(f"{k} {v:.2f}" for k, v in probabilities.items()) + ".")
    parts.append(
        f"The heatmap (Grad-CAM) shows the regions that raised the '{label.replace('_', ' ')}' score "
        f"(P = {probabilities[label]:.2f})."
    )
    quality_notes = [n for n in notes if not n.startswith("Model ")]
    parts.append("Image quality: " + (" ".join(quality_notes) if quality_notes else "no problem found."))
    return " ".join(parts)
