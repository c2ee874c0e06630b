"""The OpenAPI schema's operation descriptions come from ``api_descriptions`` only, never from docstrings
(which are for MediLens's developers, and which drf-spectacular inherits from base classes)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from .api_descriptions import OPERATION_DESCRIPTIONS


class AutoSchema(SpectacularAutoSchema):
    def get_description(self):
        # An @extend_schema(description=...) still wins: it overrides this method on its own subclass.
        return OPERATION_DESCRIPTIONS.get(self.get_operation_id(), "")
