"""What the clinician reads with a chest X-ray result besides the numbers: notes, recommendations, summary."""

from __future__ import annotations

from . import image
from .rule import REFERENCE_LABEL, Reading

# Quality thresholds: MediLens's own heuristics, not published limits (no reference range exists for these
# measures on chest radiographs). A real radiograph's display image has an RMS contrast around 0.15-0.3.
MIN_RMS_CONTRAST = 0.02  # below: nothing to read (refused)
LOW_RMS_CONTRAST = 0.08  # below: warned
CLIPPING_WARNING = 20.0  # % of pixels at one end of the value range: warned


def reference_note(model_name: str) -> str:
    return (
        f"Model {model_name} is a {REFERENCE_LABEL}: trained on synthetic images, it validates the pipeline only; "
        "its result must not inform any clinical decision."
    )


def quality_notes(quality: image.Quality, radiograph: image.Radiograph) -> list[str]:
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
            f"{quality.black_clipping:.0f} % of pixels are clipped to black (MediLens warns above "
            f"{CLIPPING_WARNING:g} %): possible overexposure (burn-out) or heavy electronic masking."
        )
    if quality.white_clipping > CLIPPING_WARNING:
        notes.append(
            f"{quality.white_clipping:.0f} % of pixels are clipped to white (MediLens warns above "
            f"{CLIPPING_WARNING:g} %): possible underexposure or saturation of dense regions."
        )
    if quality.rms_contrast < LOW_RMS_CONTRAST:
        notes.append(
            f"Low contrast (RMS contrast {quality.rms_contrast:.3f}; MediLens warns below {LOW_RMS_CONTRAST:g}): "
            "the image may be hard to read."
        )
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


INPUT_CHECK_NOTE = (
    "PNG/JPEG input check passed (greyscale, smooth structure, not a white page, no circular fundus field): "
    "MediLens's own thresholds, not validated on real radiographs; it refuses obvious non-radiographs only."
)


def recommendations(reading: Reading | None, quality, model_name: str, is_reference: bool, label: str) -> list[dict]:
    source = f"Model {model_name}" + (f" ({REFERENCE_LABEL})" if is_reference else "")
    items = []
    if reading is not None and reading.level == "high":
        items.append(
            {
                "text": f"The model flags a possible {label.replace('_', ' ')} (P(abnormal) "
                f"{reading.abnormal:.2f} at threshold {reading.threshold:.2f}); have the image read by a "
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


def summary(reading: Reading | None, probabilities, label, model_name: str, is_reference, notes) -> str:
    model = f"Model {model_name}" + (f" ({REFERENCE_LABEL})" if is_reference else "")
    parts = []
    if reading is not None:
        parts.append(
            f"{model} gives P(abnormal) {reading.abnormal:.2f} (threshold {reading.threshold:.2f}): "
            f"{reading.scale.display(reading.score.value)} % probability of an abnormal film, {reading.level}."
        )
    else:
        parts.append(f"{model} gives: " + ", ".join(f"{k} {v:.2f}" for k, v in probabilities.items()) + ".")
    parts.append(
        f"The heatmap (Grad-CAM) shows the regions that raised the '{label.replace('_', ' ')}' score "
        f"(P = {probabilities[label]:.2f})."
    )
    quality_notes = [n for n in notes if not n.startswith(("Model ", "PNG/JPEG input check"))]
    parts.append("Image quality: " + (" ".join(quality_notes) if quality_notes else "no problem found."))
    return " ".join(parts)
