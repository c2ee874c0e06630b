"""The API keeps its published contract: schemathesis generates requests for every operation of
/api/v1/schema/ and sends them to a live server on the test database (PostgreSQL, the session's Redis and
S3 server), with a clinician key of one organization (a key that may not manage webhooks, so no generated
URL is ever contacted). A response must never be a 5xx, its status code must be one the schema documents
for that operation, and its content type and body must match the schema.

Bounded for a 2-core machine (about 35 s here): a few examples per operation in the fuzzing and
stateful phases, the coverage phase's schema-valid cases (its thousand-odd schema-invalid ones take minutes:
set API_FUZZ_FULL_COVERAGE=1 to run them too), one worker, a fixed seed, a timeout per request and for
the whole run. The key's own rate limit is raised for this test so that the run measures the contract,
not the throttle (the 429 is documented, and tested on its own).
"""

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from accounts.models import ApiClient
from accounts.tenancy import organization_scope
from assessments import pipeline, services

MAX_EXAMPLES = 8
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis_command() -> list[str]:
    binary = Path(sys.executable).parent / "schemathesis"
    return [str(binary)] if binary.exists() else [shutil.which("schemathesis") or "schemathesis"]


FUZZ_CONFIG = r"""
[phases.coverage]
unexpected-methods = []
{coverage}
[[operations]]
include-path-regex = '^/api/v1/(patients/|fhir/Patient/)\{{id\}}'
parameters = {{ id = "{patient_id}" }}
[[operations]]
include-path-regex = '^/api/v1/(assessments/|fhir/RiskAssessment/|fhir/DiagnosticReport/)\{{id\}}'
parameters = {{ id = "{assessment_id}" }}
[[operations]]
include-path-regex = '^/api/v1/fhir/Observation/\{{id\}}'
parameters = {{ id = "{observation_id}" }}
"""


FULL_COVERAGE = bool(os.environ.get("API_FUZZ_FULL_COVERAGE"))


def fuzz_config(patient_id: str, assessment_id: str, observation_id: str) -> str:
    """The run's configuration: the patient, assessment and Observation routes get a real patient, a completed
    assessment and one of its biomarker values, so that full bodies are checked against their schemas (the
    other routes are fuzzed with ids that mostly do not exist, a 404 the schema documents)."""
    coverage = "" if FULL_COVERAGE else '[phases.coverage.generation]\nmode = "positive"'
    return FUZZ_CONFIG.format(
        coverage=coverage, patient_id=patient_id, assessment_id=assessment_id, observation_id=observation_id
    )


@pytest.mark.django_db(transaction=True)
def test_every_operation_keeps_the_published_contract(tenant_a, live_server, settings, client, tmp_path):
    settings.API_THROTTLE_RATE = "100000/min"
    key = tenant_a.api_keys[ApiClient.Access.CLINICIAN]
    with organization_scope(tenant_a.organization):
        # A real patient and assessment, so that list operations answer with rows as well as empty pages.
        patient = services.create_patient(
            actor="system:test", organization=tenant_a.organization, consent=True, mrn="FUZZ-000001",
            given_name="Ada", family_name="Fuzz", date_of_birth=date(1970, 1, 2), sex_at_birth="female",
        )  # fmt: skip
        assessment = services.create_assessment(
            actor="system:test", organization=tenant_a.organization, patient=patient, modality="cvd_risk",
            inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120},
        )  # fmt: skip
        # "skipped" when the session's Celery worker (if an earlier test started it) ran the task first.
        assert pipeline.run(assessment.pk) in {"completed", "skipped"}
        assessment.refresh_from_db()
        value = assessment.biomarkers.first()
    assert assessment.status == "completed" and value is not None, assessment.failure_reason
    config = tmp_path / "schemathesis.toml"
    config.write_text(fuzz_config(str(patient.pk), str(assessment.pk), str(value.pk)))
    command = [
        *schemathesis_command(), "--config-file", str(config), "run", f"{live_server.url}/api/v1/schema/",
        "--header", f"Authorization: Bearer {key}",
        "--checks", CHECKS,
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--seed", "7",
        "--generation-database", "none",
        "--request-timeout", "20",
        "--no-color",
    ]  # fmt: skip
    # About 35 s here (2 shared cores); the full coverage phase about 2 minutes.
    timeout = 600 if FULL_COVERAGE else 240
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report[-20000:]
    # Every operation the schema publishes was tested (a schema that failed to load would test none).
    count = len(list(operations(published_schema(client))))
    assert re.search(rf"Tested: {count}\b", report), report[-5000:]


def published_schema(client) -> dict:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "patch", "post", "delete"}:
                yield path, method, operation


def test_every_operation_documents_its_error_responses(client):
    schema = published_schema(client)
    assert "Error" in schema["components"]["schemas"]
    checked = 0
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "406", "429"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        assert expected <= set(responses), (method, path, sorted(responses))
        if path.startswith("/api/v1/fhir/"):
            continue  # OperationOutcome, declared by the FHIR views themselves
        checked += 1
        expected.add("503")  # Redis (or, for an upload, the object store) not answering
        assert "503" in responses, (method, path, sorted(responses))
        assert "Retry-After" in responses["503"]["headers"]
        for code in expected:
            content = responses[code]["content"]
            assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, (path, code)
        assert "Retry-After" in responses["429"]["headers"]
    assert checked >= 15


def test_idempotent_operations_document_the_key_and_its_conflict(client):
    schema = published_schema(client)
    idempotent = {
        (path, method)
        for path, method, operation in operations(schema)
        if any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    }
    assert idempotent == {
        ("/api/v1/patients/", "post"),
        ("/api/v1/assessments/", "post"),
        ("/api/v1/assessments/{id}/attachments/", "post"),
        ("/api/v1/assessments/{id}/cancel/", "post"),
        ("/api/v1/assessments/{id}/retry/", "post"),
        ("/api/v1/assessments/{id}/reanalyse/", "post"),
        ("/api/v1/webhooks/", "post"),
    }
    for path, method in idempotent:
        assert {"400", "409"} <= set(schema["paths"][path][method]["responses"])


def test_the_schema_states_the_rules_the_api_enforces(client):
    schema = published_schema(client)
    patient = schema["components"]["schemas"]["Patient"]["properties"]
    assert patient["consent_recorded_at"]["nullable"] is True
    assert "future" in patient["date_of_birth"]["description"]
    assert "unique" in patient["mrn"]["description"]
    history = schema["paths"]["/api/v1/patients/{id}/biomarkers/"]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in history["parameters"]}
    assert (parameters["days"]["minimum"], parameters["days"]["maximum"]) == (1, 3650)
    assert parameters["name"]["pattern"] == "^[^\\x00]*$"
    body = history["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/PatientBiomarkerHistory")
    patients = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/patients/"]["get"]["parameters"]}
    assert patients["q"]["pattern"] == "^[^\\x00]*$"
    assert (patients["page_size"]["minimum"], patients["page_size"]["maximum"]) == (1, 200)
    listing = schema["paths"]["/api/v1/assessments/"]["get"]["responses"]
    assert "patient" in listing["404"]["description"]
