"""A registered model, when one is active for the organization (``modalities.runtime``): it runs on the
working image and its output is reported beside the measurements, with its version; its saliency map goes
under the explanation overlay. It never changes the score: a reference model is not for clinical use.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from typing import Any

NO_MODEL_NOTE = "No model is active for dermatology here: the result rests on the measured features only."


@dataclass
class ModelOutput:
    record: dict[str, Any]  # for the result's details
    version_id: int | None
    base_image: Any = None  # PIL image: the photo with the saliency map, for the overlay; None without a model


def _runtime():
    """The model runtime (modalities.runtime), or None where it is not installed in this build."""
    try:
        return importlib.import_module("modalities.runtime")
    except ModuleNotFoundError as error:
        if error.name == "modalities.runtime":
            return None
        raise


def run_model(modality: str, organization_id: int | None, rgb) -> ModelOutput:
    """The active model's probabilities and saliency on ``rgb`` (float HxWx3, 0..1), or "no model"."""
    runtime = _runtime()
    version = runtime.active_model(modality, organization_id) if runtime is not None else None
    if version is None:
        return ModelOutput({"status": "no model", "note": NO_MODEL_NOTE}, None)
    loaded = runtime.load(version)
    probabilities = {str(k): round(float(v), 4) for k, v in loaded.predict(rgb).items()}
    top = max(probabilities, key=probabilities.get)
    heat = loaded.saliency(rgb, top)
    from PIL import Image

    base = Image.open(io.BytesIO(runtime.heatmap_overlay_png(rgb, heat))).convert("RGB")
    if base.size != (rgb.shape[1], rgb.shape[0]):
        base = base.resize((rgb.shape[1], rgb.shape[0]))
    is_reference = bool(getattr(version, "is_reference", False))
    record = {
        "status": "ran",
        "model_version_id": version.pk,
        "model": str(getattr(version, "label", version)),
        "name": getattr(version, "name", ""),
        "version": getattr(version, "version", ""),
        "is_reference": is_reference,
        "intended_use": getattr(version, "intended_use", ""),
        "limitations": getattr(version, "limitations", ""),
        "probabilities": probabilities,
        "top_label": top,
        "saliency_for": top,
        "note": "Reported beside the measurements; it does not change the risk score."
        + (" A reference model for validating the pipeline, not for clinical use." if is_reference else ""),
    }
    return ModelOutput(record, version.pk, base)
