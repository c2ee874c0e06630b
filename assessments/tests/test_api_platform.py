"""API v1 as a platform: list endpoints in a fixed number of queries, per-key throttling, and the
OpenAPI schema with docs pages served from vendored assets."""

import json
import re

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.api_auth import ApiKeyThrottle
from accounts.tenancy import organization_scope
from assessments import pipeline, services

from .helpers_api import ASSESSMENT_CONTRACT, PDF, assert_error, make_assessment, make_patient, upload

pytestmark = pytest.mark.django_db


# --- query counts ------------------------------------------------------------------------------------------
def _add_completed_assessments(tenant, count):
    for i in range(count):
        patient = make_patient(tenant, given_name=f"P{i}")
        assessment = make_assessment(tenant, patient)
        with organization_scope(tenant.organization):
            assert pipeline.run(assessment.pk) == "completed"
            if i % 2 == 0:
                services.add_attachments(actor="system:test", assessment=assessment, files=[upload("lab.pdf", PDF)])


def _queries(api, url) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), response.json()


def test_list_endpoints_do_not_grow_with_the_page(tenant_a, django_assert_num_queries):
    api = tenant_a.api("read_only")
    _add_completed_assessments(tenant_a, 3)
    api.get("/api/v1/patients/")  # the key's last-used time is written once a minute: not in the counts
    assessments_3, body = _queries(api, "/api/v1/assessments/")
    patients_3, _ = _queries(api, "/api/v1/patients/")
    assert len(body["results"]) == 3
    assert all(a["biomarkers"] and a["stages"] and a["explanation"] for a in body["results"])
    assert sum(bool(a["files"]) for a in body["results"]) == 2
    assert assessments_3 <= 8 and patients_3 <= 4

    _add_completed_assessments(tenant_a, 27)
    with django_assert_num_queries(assessments_3):
        body = api.get("/api/v1/assessments/").json()
    assert len(body["results"]) == 30 and all(a["biomarkers"] for a in body["results"])
    with django_assert_num_queries(patients_3):
        assert len(api.get("/api/v1/patients/").json()["results"]) == 30
    with django_assert_num_queries(assessments_3 + 1):  # + the patient filter's lookup
        patient_id = body["results"][0]["patient"]
        assert len(api.get("/api/v1/assessments/", {"patient": patient_id}).json()["results"]) == 1


# --- throttling --------------------------------------------------------------------------------------------
def _forget_throttle(tenant, access):
    # Only this key's counter: the cache is a Redis shared with other test sessions, never cleared.
    throttle = ApiKeyThrottle()
    cache.delete(throttle.cache_format % {"scope": throttle.scope, "ident": tenant.api_clients[access].key_prefix})


def test_the_sixth_request_in_a_minute_is_429_with_retry_after(tenant_a):
    _forget_throttle(tenant_a, "clinician")
    _forget_throttle(tenant_a, "read_only")
    with override_settings(API_THROTTLE_RATE="5/min"):
        api = tenant_a.api("clinician")
        for _ in range(5):
            assert api.get("/api/v1/patients/").status_code == 200
        response = api.get("/api/v1/patients/")
        error = assert_error(response, 429, code="throttled")
        assert 0 < int(response.headers["Retry-After"]) <= 60
        # Writes count too, and are refused before anything happens.
        assert_error(api.post("/api/v1/patients/", {"mrn": "T"}, format="json"), 429)
        # The limit is per key: another key of the same organization is unaffected.
        assert tenant_a.api("read_only").get("/api/v1/patients/").status_code == 200
        assert "second" in error["message"]
    _forget_throttle(tenant_a, "clinician")


# --- OpenAPI -----------------------------------------------------------------------------------------------
def test_schema_is_openapi_3_and_names_the_assessment_contract(client):
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    properties = document["components"]["schemas"]["Assessment"]["properties"]
    assert ASSESSMENT_CONTRACT <= set(properties)
    biomarker = document["components"]["schemas"]["Biomarker"]["properties"]
    assert {"name", "value", "unit", "reference_range", "flag"} <= set(biomarker)
    reference_range = document["components"]["schemas"]["ReferenceRange"]
    assert set(reference_range["properties"]) == {"low", "high", "low_inclusive", "high_inclusive"}
    assert reference_range["properties"]["low"]["nullable"] is True
    for path in (
        "/api/v1/patients/",
        "/api/v1/patients/{id}/biomarkers/",
        "/api/v1/assessments/",
        "/api/v1/assessments/{id}/cancel/",
        "/api/v1/files/{id}/download/",
    ):
        assert any(p.replace("{pk}", "{id}") == path for p in document["paths"]), path
    list_parameters = {p["name"] for p in document["paths"]["/api/v1/assessments/"]["get"]["parameters"]}
    assert {"patient", "modality", "status", "created_after", "created_before", "cursor"} <= list_parameters
    # The default rendering is YAML with the same content.
    as_yaml = yaml.safe_load(client.get("/api/v1/schema/").content)
    assert as_yaml["components"]["schemas"]["Assessment"]["properties"].keys() == properties.keys()


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_use_only_vendored_assets(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
    scripts = re.findall(r'<script[^>]+src\s*=\s*["\']([^"\']+)["\']', html)
    assert scripts, html[:2000]
    for reference in references:
        assert not re.match(r"^(https?:)?//", reference), reference
    for script in scripts:
        if script.startswith(f"{page}?"):
            # Served by the docs view itself, from vendored files: Swagger UI's start-up script (the split
            # view, so the page needs no inline script) and Redoc's bundle (without its CDN logo).
            assert client.get(script).status_code == 200, script
            continue
        assert script.startswith(settings.STATIC_URL), script
        assert finders.find(script[len(settings.STATIC_URL) :].split("?")[0]), f"{script} is not vendored"
    assert not re.search(r"https?://(?!testserver)[^\s\"']*\.(?:js|css)\b", html)
