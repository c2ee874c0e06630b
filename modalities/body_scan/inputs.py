"""The body-scan inputs: how to read the mesh (its units and up axis), whether its texture may be kept, and the
height and weight for the Mosteller estimate beside the scan's own surface area (from the patient's record by
default)."""

from __future__ import annotations

from typing import Any

from ..inputs import Choice, Flag, InputSchema, Number

UNITS = [("m", "metres"), ("cm", "centimetres"), ("mm", "millimetres")]
UP_AXES = [("auto", "Automatic"), ("y", "+Y is up"), ("z", "+Z is up")]
HEIGHT_CM, WEIGHT_KG = (40.0, 260.0), (2.0, 400.0)


class BodyScanInputs(InputSchema):
    not_an_object = "Inputs must be a JSON object."
    unknown_input = (
        "Unknown input for the body scan (it takes units, up_axis, keep_texture, height_cm and weight_kg)."
    )
    example = {"units": "mm", "up_axis": "auto", "keep_texture": False}

    units = Choice(
        label="Units of the mesh file",
        choices=UNITS,
        initial="m",
        required=False,
        allow_null=True,
        help_text="For PLY, OBJ and STL, which carry no unit. A glTF binary (.glb) is in metres by specification "
        "and this is ignored for it.",
        error_messages={"invalid_choice": "Choose one of: m, cm, mm."},
    )
    up_axis = Choice(
        label="Up axis",
        choices=UP_AXES,
        initial="auto",
        required=False,
        allow_null=True,
        help_text="Automatic: +Y for glTF (its specification); for other files the longest extent, feet down.",
        error_messages={"invalid_choice": "Choose one of: auto, y, z."},
    )
    keep_texture = Flag(
        label="Keep colours and textures in the stored model",
        required=False,
        default=False,
        help_text="Off by default: a textured body scan shows the face and skin and can identify the person.",
    )
    height_cm = Number(
        label="Height (cm) for the Mosteller body surface area",
        required=False,
        allow_null=True,
        min_value=HEIGHT_CM[0],
        max_value=HEIGHT_CM[1],
        help_text="From the patient's record; the scan's own height is measured separately.",
    )
    weight_kg = Number(
        label="Weight (kg) for the Mosteller body surface area",
        required=False,
        allow_null=True,
        min_value=WEIGHT_KG[0],
        max_value=WEIGHT_KG[1],
        help_text="From the patient's record.",
    )

    @classmethod
    def initial(cls, patient) -> dict[str, Any]:
        values = {"units": "m", "up_axis": "auto"}
        if patient.height_cm is not None:
            values["height_cm"] = patient.height_cm
        if patient.weight_kg is not None:
            values["weight_kg"] = patient.weight_kg
        return values

    def resolved(self, data, patient) -> dict[str, Any]:
        return {
            "units": data.get("units") or "m",
            "up_axis": data.get("up_axis") or "auto",
            "keep_texture": bool(data.get("keep_texture")),
            "height_cm": data.get("height_cm"),
            "weight_kg": data.get("weight_kg"),
        }
