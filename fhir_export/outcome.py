"""Errors as FHIR OperationOutcome resources, and the renderer that serves every FHIR answer as
application/fhir+json whatever the client's Accept header (FHIR's JSON is the only format served)."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from accounts.api import exception_handler as api_exception_handler

FHIR_JSON = "application/fhir+json"

# HTTP status -> the IssueType (http://hl7.org/fhir/issue-type) that says the same.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
}


class FHIRJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir+json"


class FHIRContentNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def operation_outcome(status: int, message: str, *, expression: str | None = None, code: str | None = None) -> dict:
    issue = {"severity": "error", "code": code or ISSUE_CODES.get(status, "processing"), "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _issues(error: dict, status: int) -> list[dict]:
    fields = error.get("fields") or {}
    issues = []
    for name, messages in fields.items():
        for message in messages if isinstance(messages, list) else [messages]:
            issues.extend(operation_outcome(status, str(message), expression=name)["issue"])
    return issues or operation_outcome(status, error.get("message") or "Request failed.")["issue"]


def exception_handler(exc, context):
    """The API's handler decides the status (so 401, 403, 404, 405 and 429 mean what they mean elsewhere);
    the body becomes an OperationOutcome."""
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
    response.data = {"resourceType": "OperationOutcome", "issue": _issues(error, response.status_code)}
    return response
