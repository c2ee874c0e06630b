"""The dermatology inputs: the portal's form, and the validation that the API, the portal and the worker
share (``validate``), each error keyed by its field; and the earlier measurements of the same lesion that
submission adds from the patient's history (``with_history``).

Inputs: ``image_type`` (clinical or dermoscopy), ``pixels_per_mm`` of the uploaded photo (from a ruler in
it), ``dermoscopic_structures`` (1-5, counted by the clinician on a dermoscopy image), ``lesion_id`` and
``previous`` (earlier measurements of the same lesion; see ``evolution``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django import forms

from ..base import InputError
from .evolution import PREVIOUS_KEYS, parse_when, previous_measurements

IMAGE_TYPES = ("clinical", "dermoscopy")
MAX_PIXELS_PER_MM = 1000.0
ALLOWED = {"image_type", "pixels_per_mm", "dermoscopic_structures", "lesion_id", "previous"}


class DermatologyInputForm(forms.Form):
    """The portal's form (presentation); ``validate`` does the validation."""

    image_type = forms.ChoiceField(
        label="Image type",
        choices=[("clinical", "Clinical photo"), ("dermoscopy", "Dermoscopy image")],
        initial="clinical",
    )
    pixels_per_mm = forms.FloatField(
        label="Scale (pixels per mm)",
        required=False,
        help_text="From a ruler in the photo: how many pixels of the uploaded photo make 1 mm. "
        "Without it, the diameter is in pixels and flagged 'no scale'.",
    )
    dermoscopic_structures = forms.IntegerField(
        label="Dermoscopic structures (1-5)",
        required=False,
        help_text="Dermoscopy only, counted by you: network, structureless areas, dots, globules, branched "
        "streaks. Needed for the Stolz total dermoscopy score.",
    )
    lesion_id = forms.CharField(
        label="Lesion identifier",
        required=False,
        max_length=100,
        help_text="e.g. 'left shoulder 1'. A later photo with the same identifier is compared with this one.",
    )


def validate(inputs: dict[str, Any]) -> dict[str, Any]:
    """The resolved, JSON-safe inputs, or InputError naming every bad field."""
    if not isinstance(inputs, dict):
        raise InputError({"inputs": "Inputs must be a JSON object."})
    unknown = sorted(set(inputs) - ALLOWED)
    if unknown:
        raise InputError({name: "Unknown input for dermatology." for name in unknown})
    errors: dict[str, str] = {}
    image_type = _image_type(inputs.get("image_type"), errors)
    pixels_per_mm = _scale(inputs.get("pixels_per_mm"), errors)
    structures = _structures(inputs.get("dermoscopic_structures"), image_type, errors)
    lesion_id = _lesion_id(inputs.get("lesion_id"), errors)
    previous = None
    if inputs.get("previous") is not None:
        previous = _previous(inputs["previous"], errors)
        if previous is not None and lesion_id is None:
            errors["previous"] = "Earlier measurements belong to a lesion: give its lesion_id as well."
    if errors:
        raise InputError(errors)
    resolved: dict[str, Any] = {
        "image_type": image_type,
        "pixels_per_mm": pixels_per_mm,
        "dermoscopic_structures": structures,
        "lesion_id": lesion_id,
    }
    if previous is not None:
        resolved["previous"] = previous
    return resolved


def with_history(resolved: dict[str, Any], history) -> dict[str, Any]:
    """E: the latest completed assessment of the same lesion (same ``lesion_id``) of this patient becomes
    ``previous``, unless the caller gave earlier measurements explicitly. No lesion_id, no history."""
    lesion_id = resolved.get("lesion_id")
    if lesion_id is None or resolved.get("previous") is not None:
        return resolved
    for prior in history():  # newest first
        if prior.inputs.get("lesion_id") == lesion_id:
            previous = previous_measurements(
                biomarkers=prior.biomarkers, measured_at=prior.completed_at, assessment_id=prior.assessment_id
            )
            return {**resolved, "previous": previous}
    return resolved


# --- the fields --------------------------------------------------------------------------------------------
def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, name: str, errors: dict) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        errors[name] = "Enter a number."
        return None
    try:
        number = float(value)
    except ValueError:
        errors[name] = "Enter a number."
        return None
    if not math.isfinite(number):
        errors[name] = "Enter a finite number."
        return None
    return number


def _whole(value, name: str, errors: dict) -> int | None:
    number = _number(value, name, errors)
    if number is None:
        return None
    if not float(number).is_integer():
        errors[name] = "Enter a whole number."
        return None
    return int(number)


def _image_type(value, errors: dict) -> str:
    image_type = "clinical" if _blank(value) else value
    if image_type not in IMAGE_TYPES:
        errors["image_type"] = "Choose clinical or dermoscopy."
    return image_type


def _scale(value, errors: dict) -> float | None:
    if _blank(value):
        return None
    pixels_per_mm = _number(value, "pixels_per_mm", errors)
    if pixels_per_mm is not None and not 0 < pixels_per_mm <= MAX_PIXELS_PER_MM:
        errors["pixels_per_mm"] = (
            f"{pixels_per_mm:g} is not a usable scale: give the pixels of the uploaded photo per "
            f"millimetre, a positive number up to {MAX_PIXELS_PER_MM:g}."
        )
        return None
    return pixels_per_mm


def _structures(value, image_type: str, errors: dict) -> int | None:
    if _blank(value):
        return None
    structures = _whole(value, "dermoscopic_structures", errors)
    if structures is None:
        return None
    if not 1 <= structures <= 5:
        errors["dermoscopic_structures"] = (
            f"{structures} is not a count of dermoscopic structures: Stolz's D is 1-5 (network, "
            "structureless areas, dots, globules, branched streaks; a lesion with none of the others "
            "is structureless, which counts as 1)."
        )
        return None
    if image_type == "clinical":
        errors["dermoscopic_structures"] = (
            "Dermoscopic structures are counted on a dermoscopy image; this one is a clinical photo. "
            "Set image_type to dermoscopy, or leave the count out."
        )
    return structures


def _lesion_id(value, errors: dict) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        errors["lesion_id"] = "Enter text."
        return None
    text = value.strip()
    if len(text) > 100 or not text.isprintable():
        errors["lesion_id"] = "Use up to 100 printable characters."
        return None
    return text


# --- earlier measurements ----------------------------------------------------------------------------------
def _previous(value, errors: dict) -> dict | None:
    if not isinstance(value, dict):
        errors["previous"] = "Earlier measurements must be an object."
        return None
    unknown = sorted(set(value) - PREVIOUS_KEYS)
    if unknown:
        errors["previous"] = f"Unknown keys: {', '.join(unknown)}."
        return None
    clean: dict[str, Any] = {key: None for key in PREVIOUS_KEYS}
    problems: dict[str, str] = {}
    clean["measured_at"] = _previous_when(value.get("measured_at"), problems)
    clean.update(_previous_sizes(value, problems))
    clean.update(_previous_counts(value, problems))
    if value.get("assessment_id") is not None:
        clean["assessment_id"] = str(value["assessment_id"])[:64]
    if problems:
        errors["previous"] = "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        return None
    return clean


def _previous_when(value, problems: dict) -> str | None:
    try:
        when = parse_when(value)
    except ValueError:
        problems["measured_at"] = "not a date"
        return None
    if when is None:
        problems["measured_at"] = "required"
        return None
    if when > datetime.now(UTC):
        problems["measured_at"] = "in the future"
        return None
    return when.isoformat()


def _previous_sizes(value: dict, problems: dict) -> dict[str, float]:
    clean = {}
    for key in ("diameter_mm", "area_mm2", "diameter_px", "area_px"):
        if value.get(key) is None:
            continue
        number = _number(value[key], key, problems)
        if number is not None and number <= 0:
            problems[key] = "must be positive"
        elif number is not None:
            clean[key] = number
    return clean


def _previous_counts(value: dict, problems: dict) -> dict[str, int]:
    clean = {}
    for key, low, high in (("colour_count", 1, 6), ("asymmetry", 0, 2)):
        if value.get(key) is None:
            continue
        number = _whole(value[key], key, problems)
        if number is not None and not low <= number <= high:
            problems[key] = f"must be {low}-{high}"
        elif number is not None:
            clean[key] = number
    return clean
