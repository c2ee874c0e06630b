"""The dermatology inputs: one input schema for the API, the portal and the worker (``DermatologyInputs``), each
error keyed by its field; and the earlier measurements of the same lesion that submission adds from the patient's
history (``with_history``).

Inputs: ``image_type`` (clinical or dermoscopy), ``pixels_per_mm`` of the uploaded photo (from a ruler in
it), ``dermoscopic_structures`` (1-5, counted by the clinician on a dermoscopy image), ``lesion_id`` and
``previous`` (earlier measurements of the same lesion; see ``evolution``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import serializers

from ..inputs import Choice, InputSchema, Number, Text, Whole
from .evolution import PREVIOUS_KEYS, parse_when, previous_measurements

IMAGE_TYPES = ("clinical", "dermoscopy")
MAX_PIXELS_PER_MM = 1000.0


class _When(serializers.CharField):
    """measured_at of earlier measurements: an ISO date or date-time (text), not in the future."""

    default_error_messages = {"required": "required", "null": "required", "invalid": "not a date",
                              "future": "in the future"}  # fmt: skip

    def to_internal_value(self, data):
        try:
            when = parse_when(data)
        except (TypeError, ValueError):
            self.fail("invalid")
        if when > datetime.now(UTC):
            self.fail("future")
        return when.isoformat()

    def to_representation(self, value):
        return value


SIZES = ("diameter_mm", "area_mm2", "diameter_px", "area_px")


def _size(label: str):
    return Number(required=False, allow_null=True, help_text=f"{label}; positive.")


class PreviousMeasurements(serializers.Serializer):
    """Earlier measurements of the same lesion (any may be null but the date)."""

    assessment_id = serializers.CharField(required=False, allow_null=True)
    measured_at = _When(help_text="When the earlier photo was taken (ISO date or date-time).")
    diameter_mm = _size("Diameter (mm)")
    area_mm2 = _size("Area (mm²)")
    diameter_px = _size("Diameter (pixels)")
    area_px = _size("Area (pixels)")
    colour_count = Whole(required=False, allow_null=True, min_value=1, max_value=6,
                         error_messages={"min_value": "must be 1-6", "max_value": "must be 1-6"})  # fmt: skip
    asymmetry = Whole(required=False, allow_null=True, min_value=0, max_value=2,
                      error_messages={"min_value": "must be 0-2", "max_value": "must be 0-2"})  # fmt: skip

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Earlier measurements must be an object.")
        unknown = sorted(set(data) - PREVIOUS_KEYS)
        if unknown:
            raise serializers.ValidationError(f"Unknown keys: {', '.join(unknown)}.")
        clean = {key: None for key in PREVIOUS_KEYS}
        clean.update(super().to_internal_value(data))
        if clean["assessment_id"] is not None:
            clean["assessment_id"] = str(clean["assessment_id"])[:64]
        not_positive = {key: ["must be positive"] for key in SIZES if clean[key] is not None and clean[key] <= 0}
        if not_positive:
            raise serializers.ValidationError(not_positive)
        return clean


class DermatologyInputs(InputSchema):
    not_an_object = "Inputs must be a JSON object."
    unknown_input = "Unknown input for dermatology."
    example = {"image_type": "dermoscopy", "pixels_per_mm": 12.5, "dermoscopic_structures": 3, "lesion_id": "back 1"}

    image_type = Choice(
        label="Image type",
        choices=[("clinical", "Clinical photo"), ("dermoscopy", "Dermoscopy image")],
        initial="clinical",
        required=False,
        allow_null=True,
        error_messages={"invalid_choice": "Choose clinical or dermoscopy."},
    )
    pixels_per_mm = Number(
        label="Scale (pixels per mm)",
        required=False,
        allow_null=True,
        help_text="From a ruler in the photo: how many pixels of the uploaded photo make 1 mm. "
        "Without it, the diameter is in pixels and flagged 'no scale'.",
    )
    dermoscopic_structures = Whole(
        label="Dermoscopic structures (1-5)",
        required=False,
        allow_null=True,
        help_text="Dermoscopy only, counted by you: network, structureless areas, dots, globules, branched "
        "streaks. Needed for the Stolz total dermoscopy score.",
    )
    lesion_id = Text(
        label="Lesion identifier",
        required=False,
        allow_null=True,
        help_text="e.g. 'left shoulder 1'. A later photo with the same identifier is compared with this one.",
    )
    previous = PreviousMeasurements(
        required=False,
        allow_null=True,
        help_text="Earlier measurements of the same lesion (API only; the portal fills them from the patient's "
        "earlier assessment with the same lesion identifier).",
    )

    def validate_pixels_per_mm(self, value):
        if value is not None and not 0 < value <= MAX_PIXELS_PER_MM:
            raise serializers.ValidationError(
                f"{value:g} is not a usable scale: give the pixels of the uploaded photo per "
                f"millimetre, a positive number up to {MAX_PIXELS_PER_MM:g}."
            )
        return value

    def validate_dermoscopic_structures(self, value):
        if value is not None and not 1 <= value <= 5:
            raise serializers.ValidationError(
                f"{value} is not a count of dermoscopic structures: Stolz's D is 1-5 (network, "
                "structureless areas, dots, globules, branched streaks; a lesion with none of the others "
                "is structureless, which counts as 1)."
            )
        return value

    def validate_lesion_id(self, value):
        if value is not None and (len(value) > 100 or not value.isprintable()):
            raise serializers.ValidationError("Use up to 100 printable characters.")
        return value

    def validate(self, attrs):
        errors = {}
        if attrs.get("dermoscopic_structures") is not None and (attrs.get("image_type") or "clinical") == "clinical":
            errors["dermoscopic_structures"] = (
                "Dermoscopic structures are counted on a dermoscopy image; this one is a clinical photo. "
                "Set image_type to dermoscopy, or leave the count out."
            )
        if attrs.get("previous") is not None and attrs.get("lesion_id") is None:
            errors["previous"] = "Earlier measurements belong to a lesion: give its lesion_id as well."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def resolved(self, data: dict[str, Any], patient) -> dict[str, Any]:
        resolved: dict[str, Any] = {
            "image_type": data.get("image_type") or "clinical",
            "pixels_per_mm": data.get("pixels_per_mm"),
            "dermoscopic_structures": data.get("dermoscopic_structures"),
            "lesion_id": data.get("lesion_id"),
        }
        if data.get("previous") is not None:
            resolved["previous"] = data["previous"]
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
