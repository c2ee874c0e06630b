"""``Idempotency-Key`` for API POSTs.

A retried request with the same key and the same body gets the first response again and creates
nothing; the same key with a different body is a 409. The key is claimed (a row inserted) before the
work runs, so two concurrent requests with one key cannot both do it: the second gets a 409 while the
first is in progress.
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.response import Response

from assessments.models import IdempotencyRecord

HEADER = "Idempotency-Key"
IN_PROGRESS = 0


def request_fingerprint(request) -> str:
    """A hash of what the request asks for: its path, fields and file contents (not the multipart
    boundary, which differs between retries)."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    data = request.data
    fields = {}
    if hasattr(data, "lists"):
        for key, values in data.lists():
            if key not in request.FILES:
                fields[key] = values
    else:
        fields = data
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for key in sorted(request.FILES):
        for upload in request.FILES.getlist(key):
            digest.update(f"\n{key}:{upload.name}:{upload.size}:".encode())
            upload.seek(0)
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def _error(code: str, message: str, http_status: int) -> Response:
    return Response({"error": {"status": http_status, "code": code, "message": message}}, status=http_status)


def idempotent(view_method):
    """Decorate a TenantAPIView POST handler."""

    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > 255:
            return _error("invalid_idempotency_key", "Idempotency-Key must be 1-255 characters.", 400)
        fingerprint = request_fingerprint(request)
        client = request.auth
        existing = IdempotencyRecord.objects.filter(api_client=client, key=key).first()
        if existing is not None:
            return _replay(existing, fingerprint, request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization=request.organization,
                    api_client=client,
                    key=key,
                    method=request.method,
                    path=request.path,
                    request_hash=fingerprint,
                    response_status=IN_PROGRESS,
                    response_body={},
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(api_client=client, key=key).first()
            return (
                _replay(existing, fingerprint, request)
                if existing
                else _error("idempotency_conflict", "A request with this Idempotency-Key is in progress.", 409)
            )
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()
            raise
        if response.status_code >= 500:
            record.delete()
            return response
        record.response_status = response.status_code
        record.response_body = response.data if response.data is not None else {}
        record.save(update_fields=["response_status", "response_body"])
        return response

    wrapper.__name__ = view_method.__name__
    wrapper.__doc__ = view_method.__doc__
    return wrapper


def _replay(record, fingerprint, request) -> Response:
    if record.request_hash != fingerprint or record.path != request.path:
        return _error(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request. Use a new key for a new request.",
            status.HTTP_409_CONFLICT,
        )
    if record.response_status == IN_PROGRESS:
        return _error("idempotency_conflict", "A request with this Idempotency-Key is in progress.", 409)
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response
