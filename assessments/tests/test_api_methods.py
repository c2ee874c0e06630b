"""Issue 10, API robustness: any method, size or nesting to any API route gets a 2xx, 3xx or 4xx in the
API's error shape, never a 5xx nor Django's HTML 400.

The routes come from the URLconf (everything under /api/v1/), their path parameters filled with real
objects of the requesting key's organization, so each request reaches its view's code, not a 404."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import ApiClient
from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments.models import UploadedFile
from webhooks import services as webhook_services

from .helpers_api import GOFF_WHITE_FEMALE, PDF, assert_error, make_assessment, make_patient, upload

pytestmark = pytest.mark.django_db

METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "FROBNICATE"]
WRITES = ["POST", "PUT", "PATCH"]
DEEP = "[" * 50_000 + "]" * 50_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000


def api_routes() -> list[str]:
    """Every route of the URLconf under /api/v1/, as a pattern string like "api/v1/patients/<uuid:pk>/"."""
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                found.append(prefix + str(entry.pattern))

    walk(get_resolver().url_patterns, "")
    return sorted(route for route in found if route.startswith("api/v1/"))


def fill(route: str, objects: dict) -> str:
    """A path for the route: its one parameter is the object its first segment names."""
    if "<" not in route:
        return "/" + route
    kind = route.split("/")[2]  # patients, assessments, files, webhooks; fhir/<resource type>
    if kind == "fhir":
        kind = FHIR_KINDS[route.split("/")[3]]
    return "/" + re.sub(r"<[^>]+>", str(objects[kind]), route)


# The object a FHIR route's id names (an Observation id is a number, as a file's: it reaches the view).
FHIR_KINDS = {"Patient": "patients", "DiagnosticReport": "assessments", "RiskAssessment": "assessments",
              "Observation": "files", "DocumentReference": "files"}  # fmt: skip


def _error_shape(route, response) -> bool:
    """The API's error shape; under /api/v1/fhir/, FHIR's (an OperationOutcome)."""
    body = response.json()
    if route.startswith("api/v1/fhir/"):
        return body.get("resourceType") == "OperationOutcome" and bool(body.get("issue"))
    return set(body) == {"error"}


@pytest.fixture
def objects(tenant_a):
    patient = make_patient(tenant_a)
    assessment = make_assessment(tenant_a, patient, attachments=[upload("lab.pdf", PDF)])
    with scopes_disabled():
        uploaded = UploadedFile.objects.get(assessment=assessment)
        # The clinician key may manage webhooks here, so the sweep reaches those views past the permission.
        ApiClient.objects.filter(pk=tenant_a.api_clients["clinician"].pk).update(may_manage_webhooks=True)
    with organization_scope(tenant_a.organization):
        endpoint, _secret = webhook_services.create_endpoint(
            actor=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, url="http://127.0.0.1:9/hooks",
            events=["assessment.completed"],
        )
    # A completed assessment with result artifacts (the test-only test_artifacts analyzer) for the artifact routes.
    from assessments.models import ResultArtifact
    from assessments.tests.portal import make_assessment as make_run_assessment

    analysed = make_run_assessment(tenant_a, patient, modality="test_artifacts", run=True)
    with scopes_disabled():
        artifact = ResultArtifact.objects.filter(version__assessment=analysed).first()
    return {
        "patients": patient.pk, "assessments": assessment.pk, "files": uploaded.pk, "webhooks": endpoint.pk,
        "artifacts": artifact.pk,
    }


def _send(client, method, path, body="{}", content_type="application/json"):
    return client.generic(method, path, body, content_type=content_type)


def test_the_sweep_covers_every_api_view():
    routes = api_routes()
    assert len(routes) >= 13, routes
    assert "api/v1/assessments/<uuid:pk>/attachments/" in routes and "api/v1/files/<int:pk>/download/" in routes


DOCS = {"api/v1/schema/", "api/v1/docs/", "api/v1/redoc/"}  # drf-spectacular's, public, not JSON errors


def _problem(method, route, response, get_status, access) -> str | None:
    """What is wrong with this answer, if anything."""
    status = response.status_code
    if status >= 500:
        return "a 5xx"
    if method == "HEAD":
        return None if status == get_status and not response.content else f"HEAD must answer as GET ({get_status})"
    if status >= 400 and route not in DOCS and not _error_shape(route, response):
        return "not the API's error shape"
    if method == "FROBNICATE" and status != 405:
        return "an unknown method must be 405"
    if method == "OPTIONS" and access and route not in DOCS and status != 200:
        return "OPTIONS must describe the endpoint to any valid key"
    return None


@pytest.mark.parametrize("access", ["clinician", "read_only", None])
def test_every_method_on_every_route_is_answered_without_a_5xx(tenant_a, objects, access):
    client = tenant_a.api(access) if access else APIClient()
    failures = []
    for route in api_routes():
        path = fill(route, objects)
        get_status = _send(client, "GET", path).status_code
        for method in METHODS:
            response = _send(client, method, path)
            problem = _problem(method, route, response, get_status, access)
            if problem:
                failures.append((method, path, response.status_code, problem, response.content[:200]))
    assert not failures, "\n".join(map(str, failures))


def test_unsupported_methods_are_405_with_allow_before_any_permission(tenant_a, objects):
    """Was a 500: the per-method permission dict had no entry for DELETE (nor HEAD, OPTIONS)."""
    read_only = tenant_a.api("read_only")
    response = read_only.delete(f"/api/v1/patients/{objects['patients']}/")
    assert_error(response, 405, code="method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PUT", "PATCH", "HEAD", "OPTIONS"}
    # A method the key could not use anyway is still a 405 (not a 403): the method is checked first.
    assert_error(read_only.delete(f"/api/v1/assessments/{objects['assessments']}/cancel/"), 405)
    head = read_only.head("/api/v1/patients/")
    assert head.status_code == 200 and head.content == b""
    options = read_only.options("/api/v1/patients/")
    assert options.status_code == 200 and options.json()["name"]


def test_a_50000_deep_json_body_to_every_write_route_is_never_a_5xx(tenant_a, objects):
    client = tenant_a.api("clinician")
    failures = []
    for route in api_routes():
        path = fill(route, objects)
        for method in WRITES:
            for body in (DEEP, DEEP_OBJECT):
                # With an Idempotency-Key the body is read (fingerprinted) even where the view ignores it.
                for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": f"deep-{method}-{path}-{len(failures)}"}):
                    response = client.generic(method, path, body, content_type="application/json", **headers)
                    if response.status_code >= 500 or (
                        response.status_code >= 400 and route not in DOCS and not _error_shape(route, response)
                    ):
                        failures.append((method, path, response.status_code, response.content[:200]))
    assert not failures, "\n".join(map(str, failures))
    # Where the body is read, the answer says why.
    patient = objects["patients"]
    for method, path in [("POST", "/api/v1/patients/"), ("PATCH", f"/api/v1/patients/{patient}/"),
                         ("PUT", f"/api/v1/patients/{patient}/"), ("POST", "/api/v1/assessments/")]:
        assert_error(_send(client, method, path, DEEP), 400, code="too_deeply_nested")


def test_json_a_little_under_the_interpreters_limit_is_refused_too(tenant_a):
    """A body nested 900 levels parses, and would break the next thing that walks it (the idempotency
    fingerprint, the JSON field): nesting is bounded well below."""
    body = json.dumps({"patient": "x", "modality": "cvd_risk", "inputs": json.loads("[" * 900 + "]" * 900)})
    response = tenant_a.api("clinician").post(
        "/api/v1/assessments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep-1"
    )
    assert_error(response, 400, code="too_deeply_nested")


def test_a_deep_inputs_string_in_a_multipart_request_is_400(tenant_a):
    patient = make_patient(tenant_a)
    response = tenant_a.api("clinician").post(
        "/api/v1/assessments/",
        {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": DEEP},
        format="multipart",
    )
    assert_error(response, 400, field="inputs")


def test_an_over_size_json_body_is_413_in_the_api_shape(tenant_a, settings):
    patient = make_patient(tenant_a)
    body = json.dumps({"patient": str(patient.pk), "modality": "cvd_risk", "inputs": GOFF_WHITE_FEMALE,
                       "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    client = tenant_a.api("clinician")
    for path in ("/api/v1/assessments/", "/api/v1/patients/", f"/api/v1/patients/{patient.pk}/"):
        method = "PATCH" if path.endswith(f"{patient.pk}/") else "POST"
        assert_error(_send(client, method, path, body), 413, code="request_too_large")
    # A multipart form whose fields are over the limit, likewise (Django's refusal was an HTML 400).
    response = client.post(
        "/api/v1/assessments/",
        {"patient": str(patient.pk), "inputs": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)},
        format="multipart",
    )
    assert_error(response, 413, code="request_too_large")


def test_too_many_files_is_a_400_in_the_api_shape(tenant_a, settings):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    files = [upload(f"f{index}.pdf", PDF) for index in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]
    response = tenant_a.api("clinician").post(
        f"/api/v1/assessments/{assessment.pk}/attachments/", {"files": files}, format="multipart"
    )
    assert_error(response, 400, code="too_many_files")


# --- the kiosk's responses ---------------------------------------------------------------------------
@pytest.fixture
def kiosk(tenant_a):
    patient = make_patient(tenant_a)
    client = tenant_a.client_for(Role.CLINICIAN)
    started = client.post(f"/cognitive/patients/{patient.pk}/start/")
    assert started.status_code in (302, 303), started.status_code
    return client


def test_the_kiosk_answers_deep_and_over_size_responses_with_4xx(kiosk, settings):
    from django.urls import reverse

    url = reverse("kiosk:submit")
    deep = kiosk.post(url, DEEP, content_type="application/json")
    assert deep.status_code == 400 and "nested" in deep.json()["errors"]["inputs"][0]
    big = kiosk.post(url, "[" + "1," * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + "1]", content_type="application/json")
    assert big.status_code == 413 and big.json()["errors"]["inputs"]
