"""How the OpenAPI document describes a create request: one request schema per modality, chosen by ``modality``
(a oneOf with a discriminator), each with that modality's input schema as ``inputs`` and an example.

The inputs are the modality's own input schema (``modalities.inputs.InputSchema``), the one that validates
them: its fields, or, for inputs that are nested JSON (the cognitive battery's raw responses), its JSON
Schema, rewritten in OpenAPI 3.0's dialect.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer
from rest_framework import serializers

from modalities import registry
from modalities.inputs import InputSchema

INPUTS_HELP = (
    "The modality's structured inputs (a JSON object; in a multipart request, the same object as a JSON string). "
    "What a request leaves out comes from the patient's record where the modality uses it."
)
EXAMPLE_PATIENT = "3f0c1d2e-8b4a-4c6d-9e7f-0a1b2c3d4e5f"


class NoInputs(InputSchema):
    """A modality whose input is its files: ``inputs`` is empty."""

    json_schema = {
        "type": "object",
        "additionalProperties": False,
        "description": "This modality takes no structured inputs: send its files as `files` (multipart).",
    }


def openapi_dialect(schema: Any) -> Any:
    """A JSON Schema (2020-12) node as OpenAPI 3.0 says it: a nullable type as ``nullable``, several types as
    ``anyOf``, a numeric ``exclusiveMinimum`` as ``minimum`` + ``exclusiveMinimum: true``; the validator's
    own keys (``x-messages``, ``$schema``) left out."""
    if isinstance(schema, list):
        return [openapi_dialect(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = {key: openapi_dialect(value) for key, value in schema.items() if key not in ("x-messages", "$schema")}
    if "exclusiveMinimum" in node:
        node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
    kinds = node.get("type")
    if isinstance(kinds, list):
        if "null" in kinds:
            node["nullable"] = True
        kinds = [kind for kind in kinds if kind != "null"]
        if len(kinds) == 1:
            node["type"] = kinds[0]
        else:
            del node["type"]
            node["anyOf"] = [{"type": kind} for kind in kinds]
    return node


class InputSchemaExtension(OpenApiSerializerExtension):
    """Publishes an input schema with a JSON Schema as that schema; the others as their fields."""

    target_class = "modalities.inputs.InputSchema"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        if self.target.json_schema is not None:
            return openapi_dialect(self.target.json_schema)
        return auto_schema._map_serializer(self.target, direction, bypass_extensions=True)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def create_request(name: str) -> type[serializers.Serializer]:
    """The create request of one modality, as documented: ``modality`` is its name, ``inputs`` its schema."""
    modality = registry.get(name).modality
    schema = modality.input_schema or NoInputs
    fields = {
        "patient": serializers.UUIDField(help_text="The patient (of the key's organization)."),
        "modality": serializers.ChoiceField(choices=[name], help_text=modality.label),
        "inputs": schema(required=False, help_text=INPUTS_HELP),
        "__doc__": f"{modality.label}: {modality.description}",
    }
    return type(f"{_camel(name)}AssessmentCreate", (serializers.Serializer,), fields)


def create_request_schema() -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name="AssessmentCreate",
        serializers=lambda: {name: create_request(name) for name in registry.names()},
        resource_type_field_name="modality",
    )


def create_examples() -> list[OpenApiExample]:
    examples = []
    for name in registry.names():
        modality = registry.get(name).modality
        schema = modality.input_schema or NoInputs
        files = ", ".join(sorted(modality.accepted_types))
        examples.append(
            OpenApiExample(
                name,
                summary=modality.label,
                description=modality.description + (f" Input files (multipart `files`): {files}." if files else ""),
                value={"patient": EXAMPLE_PATIENT, "modality": name, "inputs": schema.example},
                request_only=True,
            )
        )
    return examples
