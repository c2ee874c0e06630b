"""The OpenAPI document describes the FHIR endpoints: their paths, FHIR's media type, and every status each
can answer (a contract fuzzer holds the server to it)."""

import pytest
from rest_framework.test import APIClient

from fhir_export import urls

pytestmark = pytest.mark.django_db


def test_every_fhir_operation_is_documented_with_its_media_type_and_statuses():
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    fhir_paths = {path: item for path, item in schema["paths"].items() if path.startswith("/api/v1/fhir/")}
    assert len(fhir_paths) == len(urls.urlpatterns)
    for path, item in fhir_paths.items():
        responses = item["get"]["responses"]
        assert {"200", "401", "403", "404", "429"} <= set(responses), path
        for status, response in responses.items():
            assert list(response["content"]) == ["application/fhir+json"], (path, status)
    search = fhir_paths["/api/v1/fhir/Observation"]["get"]
    assert "400" in search["responses"]
    assert {p["name"] for p in search["parameters"]} == {"patient", "subject", "code", "date", "_count", "_offset"}
    assert "/api/v1/fhir/Patient/{id}/$everything" in fhir_paths
