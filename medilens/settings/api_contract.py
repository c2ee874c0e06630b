"""The API's error responses, documented for every operation by one OpenAPI hook (medilens.api_contract)."""

from .fhir import SPECTACULAR_SETTINGS as _SPECTACULAR

SPECTACULAR_SETTINGS = {
    **_SPECTACULAR,
    "POSTPROCESSING_HOOKS": [
        *_SPECTACULAR.get("POSTPROCESSING_HOOKS", ["drf_spectacular.hooks.postprocess_schema_enums"]),
        "medilens.api_contract.error_responses",
    ],
}
