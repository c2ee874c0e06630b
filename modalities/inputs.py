"""A modality's structured inputs: one DRF serializer per modality (an ``InputSchema``) that validates the API's
``inputs`` and the portal's form alike, and is published in the OpenAPI document.

The portal builds its form from the schema's fields (labels, help texts, choices: ``assessments.forms``) and
sends what was typed as text; the API sends JSON. Both reach ``validate`` below, so a value is refused with the
same words wherever it comes from. The fields here accept a JSON value or the form's text for it (``"12.5"``,
``"on"``), never a value of another JSON type (``true`` is not a number, ``7`` is not text), and say what they
want in the portal's words ("Enter a number.").

Names carry no units: a value's unit is in the catalogue, or in an explicit unit field beside it
(``cholesterol_unit``).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, ClassVar

from rest_framework import serializers

from .base import InputError, PatientFacts

REQUIRED = "This field is required."


def blank(value: Any) -> bool:
    """An empty form field: nothing was entered."""
    return value is None or (isinstance(value, str) and not value.strip())


def _finite(field: serializers.Field, data) -> float:
    if isinstance(data, bool) or not isinstance(data, (int, float, str)):
        field.fail("invalid")
    try:
        value = float(data)
    except ValueError:
        field.fail("invalid")
    except OverflowError:
        field.fail("not_finite")
    if not math.isfinite(value):
        field.fail("not_finite")
    return value


class Number(serializers.FloatField):
    """A finite number: a JSON number or its text."""

    default_error_messages = {"invalid": "Enter a number.", "not_finite": "Enter a finite number.", "null": REQUIRED}

    def to_internal_value(self, data):
        return _finite(self, data)


class Whole(serializers.IntegerField):
    """A whole number: 3, 3.0 or "3"; not 2.5."""

    default_error_messages = {"invalid": "Enter a whole number.", "not_finite": "Enter a whole number.",
                              "null": REQUIRED}  # fmt: skip

    def to_internal_value(self, data):
        value = _finite(self, data)
        if not value.is_integer():
            self.fail("invalid")
        return int(value)


class Flag(serializers.BooleanField):
    """True or false: a JSON boolean, or a form's text for one ("on", "true", "0", "")."""

    default_error_messages = {"invalid": "Enter true or false.", "null": REQUIRED}
    TEXT = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False, "": False}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip().lower() in self.TEXT:
            return self.TEXT[data.strip().lower()]
        self.fail("invalid")

    def validate_empty_values(self, data):
        if data is None:  # a blank form field: not ticked
            return (True, False)
        return super().validate_empty_values(data)


class Choice(serializers.ChoiceField):
    default_error_messages = {
        "invalid_choice": "Select a valid choice. {input} is not one of the available choices.",
        "null": REQUIRED,
    }


class Text(serializers.CharField):
    default_error_messages = {"invalid": "Enter text.", "null": REQUIRED}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Day(serializers.DateField):
    """A date as YYYY-MM-DD."""

    default_error_messages = {
        "invalid": "Enter a valid date.",
        "not_text": "Enter text (a date as YYYY-MM-DD).",
        "null": REQUIRED,
    }

    def to_internal_value(self, value):
        if isinstance(value, date):
            return super().to_internal_value(value)
        if not isinstance(value, str):
            self.fail("not_text")
        return super().to_internal_value(value.strip())


class InputSchema(serializers.Serializer):
    """Subclass per modality: declare the fields, ``initial`` (the patient's record as defaults) and ``resolved``
    (the JSON-safe inputs stored with the assessment and read by the worker); set ``example`` for the API
    documentation and the two messages below in the modality's words."""

    not_an_object: ClassVar[str] = "Inputs must be a JSON object."
    unknown_input: ClassVar[str] = "Unknown input."
    # A request's inputs for the API documentation: what a partner would send.
    example: ClassVar[dict[str, Any]] = {}
    # A schema whose inputs are nested JSON (the cognitive battery's raw responses) is a JSON Schema: published
    # as it is, instead of the fields.
    json_schema: ClassVar[dict[str, Any] | None] = None
    # A value field -> the field that holds its unit (``{"total_cholesterol": "cholesterol_unit"}``).
    unit_fields: ClassVar[dict[str, str]] = {}

    @classmethod
    def initial(cls, patient: PatientFacts) -> dict[str, Any]:
        """Defaults for what a request leaves out (and the portal form's prefill): the fields' own."""
        return {name: field.initial for name, field in cls().fields.items() if field.initial is not None}

    def resolved(self, data: dict[str, Any], patient: PatientFacts) -> dict[str, Any]:
        """The validated inputs as stored: every field, JSON-safe."""
        return {name: _json_safe(data.get(name)) for name in self.fields}


def _json_safe(value):
    return value.isoformat() if isinstance(value, date) else value


def field_errors(errors) -> dict[str, str]:
    """DRF's error structure -> {field: message}; an object-level error is the whole inputs'."""
    flat = {}
    for name, messages in errors.items():
        key = "inputs" if name == "non_field_errors" else name
        flat[key] = _message(messages)
    return flat


def _message(messages) -> str:
    if isinstance(messages, dict):  # a nested object: its own fields, in one message
        own = messages.get("non_field_errors")
        if own:
            return _message(own)
        return "; ".join(f"{key}: {_message(value)}" for key, value in sorted(messages.items()))
    return " ".join(str(message) for message in messages)


def validate(schema: type[InputSchema], inputs: Any, patient: PatientFacts) -> dict[str, Any]:
    """The resolved inputs, or InputError keyed by field. What the request leaves out (or gives as null) comes
    from ``schema.initial(patient)``; a blank form field is "nothing entered" (a required one is then missing,
    an optional one empty, not the record's value: clearing a prefilled field means "none")."""
    if not isinstance(inputs, dict):
        raise InputError({"inputs": schema.not_an_object})
    unknown = sorted(set(inputs) - set(schema().fields))
    if unknown:
        raise InputError({name: schema.unknown_input for name in unknown})
    given = {name: value for name, value in inputs.items() if value is not None}
    data = {name: None if blank(value) else value for name, value in {**schema.initial(patient), **given}.items()}
    serializer = schema(data=data, context={"patient": patient})
    if not serializer.is_valid():
        raise InputError(field_errors(serializer.errors))
    return serializer.resolved(dict(serializer.validated_data), patient)
