"""``Idempotency-Key`` for API POSTs.

A retried request with the same key and the same body gets the first request's outcome again and
creates nothing; the same key with a different body is a 409. The key is claimed (a row inserted) before
the work runs, so two concurrent requests with one key cannot both do it: the second gets a 409 while the
first is in progress.

A record keeps the first response's status and the ids of what it created, never a response body (those
hold patient data): a replay re-reads the resources through the view (``replay``) and answers them with
the original status. Only a success is kept: a refused request changed nothing, so its retry runs again
and gets its own answer. Records expire after IDEMPOTENCY_KEY_TTL_HOURS (48 h): an expired record is
ignored at lookup and deleted by the periodic purge.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from accounts.tenancy import scopes_disabled
from assessments.models import IdempotencyRecord
from medilens.rls import maintenance

HEADER = "Idempotency-Key"
IN_PROGRESS = 0


def ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


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


def with_resources(response: Response, ids) -> Response:
    """Name what a successful POST created or changed, for a replay to re-read."""
    response.resource_ids = [str(pk) for pk in ids]
    return response


def _error(code: str, message: str, http_status: int) -> Response:
    return Response({"error": {"status": http_status, "code": code, "message": message}}, status=http_status)


def _existing(client, key: str) -> IdempotencyRecord | None:
    record = IdempotencyRecord.objects.filter(api_client=client, key=key).first()
    if record is not None and record.created_at < timezone.now() - ttl():
        record.delete()
        return None
    return record


def idempotent(view_method):
    """Decorate a TenantAPIView POST handler. The view marks its success with ``with_resources`` and
    defines ``replay(request, resource_ids, *args, **kwargs)`` returning the resources' current data."""

    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > 255:
            return _error("invalid_idempotency_key", "Idempotency-Key must be 1-255 characters.", 400)
        fingerprint = request_fingerprint(request)
        client = request.auth
        existing = _existing(client, key)
        if existing is not None:
            return _replay(self, existing, fingerprint, request, args, kwargs)
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
                )
        except IntegrityError:
            existing = _existing(client, key)
            return (
                _replay(self, existing, fingerprint, request, args, kwargs)
                if existing
                else _error("idempotency_conflict", "A request with this Idempotency-Key is in progress.", 409)
            )
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()
            raise
        if not status.is_success(response.status_code):
            record.delete()
            return response
        record.response_status = response.status_code
        record.resource_ids = getattr(response, "resource_ids", [])
        record.save(update_fields=["response_status", "resource_ids"])
        return response

    wrapper.__name__ = view_method.__name__
    wrapper.__doc__ = view_method.__doc__
    # Read by the OpenAPI hook (medilens.api_contract): it documents the Idempotency-Key header and the 409.
    wrapper.idempotent = True
    return wrapper


def _replay(view, record, fingerprint, request, args, kwargs) -> Response:
    if record.request_hash != fingerprint or record.path != request.path:
        return _error(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request. Use a new key for a new request.",
            status.HTTP_409_CONFLICT,
        )
    if record.response_status == IN_PROGRESS:
        return _error("idempotency_conflict", "A request with this Idempotency-Key is in progress.", 409)
    response = Response(view.replay(request, record.resource_ids, *args, **kwargs), status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def purge_expired(*, now=None) -> int:
    """Delete records past their lifetime, in every organization (the beat task's work)."""
    cutoff = (now or timezone.now()) - ttl()
    # Every organization's records: through the maintenance role (BYPASSRLS) when it is configured.
    with scopes_disabled():
        deleted, _ = IdempotencyRecord.objects.using(maintenance.alias()).filter(created_at__lt=cutoff).delete()
    return deleted
