"""The FHIR export (fhir_export/): the base URI of MediLens's own code systems and identifier systems."""

from .base import *  # noqa: F403 (these settings build on the base's)
from .web import SPECTACULAR_SETTINGS as _SPECTACULAR

# An installation names its own: identifiers (an organization's MRNs) and code systems live under it.
FHIR_SYSTEM_BASE = env.str("FHIR_SYSTEM_BASE", default="https://medilens.example/fhir")

# The OpenAPI document keeps the "$" of FHIR operation paths (Patient/{id}/$everything): see fhir_export.schema.
SPECTACULAR_SETTINGS = {
    **_SPECTACULAR,
    "POSTPROCESSING_HOOKS": [
        *_SPECTACULAR.get("POSTPROCESSING_HOOKS", ["drf_spectacular.hooks.postprocess_schema_enums"]),
        "fhir_export.schema.operation_paths",
    ],
}
