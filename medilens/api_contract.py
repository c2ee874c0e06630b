"""What every API operation can answer besides its success: one OpenAPI post-processing hook documents the
error responses, so that no view repeats them and a new view gets them without a line of its own.

Which codes an operation documents follows from its shape, the same way the code that answers them is
reached:

* every operation: 401 (no or a wrong API key), 403 (the key's access lacks the permission, or the
  organization is suspended), 406 (an Accept header JSON cannot satisfy), 429 (the key's rate limit,
  with ``Retry-After``) and 503 (Redis or the object store not answering, with ``Retry-After``);
* a path parameter: 404 (no such object in the key's organization: another tenant's id is a 404 too);
* query parameters or a request body: 400 (invalid fields, in ``error.fields``);
* a request body: 413 (over the request size limit) and 415 (a content type the operation does not read);
* an idempotent operation (``assessments.api.idempotency.idempotent``): the ``Idempotency-Key`` header,
  400 for a malformed key and 409 for a key reused with another request or still in progress.

A code an operation declares itself is kept; one declared without a body (``OpenApiResponse(description=...)``,
for a code its shape does not imply) gets the error body. An operation that answers in another media type
than JSON (the FHIR views: OperationOutcome in application/fhir+json) declares its own errors and is left
alone.
"""

from __future__ import annotations

import re

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the REST API has this shape; `fields` names each invalid field's problems.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status code, repeated."},
                "code": {"type": "string", "description": "A stable, machine-readable reason, e.g. `not_found`."},
                "message": {"type": "string", "description": "A sentence for a person."},
                "fields": {
                    "type": "object",
                    "description": "Field name to its messages (or, for nested input, to a nested object).",
                    "additionalProperties": True,
                },
            },
            "required": ["status", "code", "message"],
        }
    },
    "required": ["error"],
}
DESCRIPTIONS = {
    400: "Invalid request: the fields at fault and why, in `error.fields`.",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "The key's access does not allow this operation, or its organization is suspended.",
    404: "No such object in the key's organization.",
    406: "The Accept header asks for a representation other than JSON.",
    409: "The Idempotency-Key was used with a different request, is still in progress, or the object's state "
    "does not allow the change.",
    413: "The request body or its files are larger than the limit.",
    415: "The request's content type is not one this operation reads.",
    429: "The key's rate limit is used up: retry after `Retry-After` seconds.",
    503: "A service MediLens depends on (Redis, or the object store for an upload) is not answering; nothing "
    "was saved. Retry after `Retry-After` seconds.",
}
RETRY_LATER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds after which to try again."}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the key may send again."}}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
    "description": "Makes a retry safe: a retry with the same key and body gets the first success's status and "
    "resources (marked `Idempotent-Replayed: true`) instead of acting again; the same key with another body is "
    "a 409. Keys expire after 48 hours (IDEMPOTENCY_KEY_TTL_HOURS).",
}
METHODS = ("get", "put", "patch", "post", "delete")


def _idempotent_operations(generator) -> set[tuple[str, str]]:
    """(path, method) of the operations whose handler is wrapped by ``idempotent``."""
    marked = set()
    for path, _, method, view in getattr(generator, "endpoints", None) or []:
        handler = getattr(view.cls, method.lower(), None)
        if getattr(handler, "idempotent", False):
            marked.add((_shape(path), method.lower()))
    return marked


def _shape(path: str) -> str:
    """A path with its parameters unnamed: the schema says ``{id}`` where the URL pattern says ``<pk>``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def codes_for(path: str, operation: dict, *, idempotent: bool) -> set[int]:
    codes = {401, 403, 406, 429, 503}
    parameters = operation.get("parameters", [])
    if "{" in path:
        codes.add(404)
    if any(parameter.get("in") == "query" for parameter in parameters) or "requestBody" in operation:
        codes.add(400)
    if "requestBody" in operation:
        codes |= {413, 415}
    if idempotent:
        codes |= {400, 409}
    return codes


def _answers_json(operation: dict) -> bool:
    """False for an operation whose errors are another media type (FHIR's OperationOutcome); a file download
    (a PDF report) still answers its errors in JSON."""
    media_types = {kind for response in operation.get("responses", {}).values() for kind in response.get("content", {})}
    return "application/fhir+json" not in media_types


def _error_response(code: int) -> dict:
    response = {
        "description": DESCRIPTIONS.get(code, "Refused."),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }
    if code == 429:
        response["headers"] = RETRY_AFTER
    if code == 503:
        response["headers"] = RETRY_LATER
    return response


def error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds the error responses each operation can return."""
    idempotent = _idempotent_operations(generator)
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if not _answers_json(operation):
                continue
            is_idempotent = (_shape(path), method) in idempotent
            if is_idempotent:
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
            responses = operation.setdefault("responses", {})
            for code in sorted(codes_for(path, operation, idempotent=is_idempotent)):
                responses.setdefault(str(code), _error_response(code))
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = _error_response(int(code))["content"]
                if code == "429":
                    response.setdefault("headers", RETRY_AFTER)
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    return result
