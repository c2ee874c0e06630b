"""What the portal's views share: putting a service's errors on a form, the redirect after a successful POST
(htmx's HX-Redirect for the upload forms, a 302 otherwise), and the upload size messages."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat

from ..uploads import safe_filename


def add_errors(form, error: ValidationError, *, rename: dict | None = None) -> None:
    """Put a service's field errors on the form's fields; the rest become the form's non-field errors."""
    rename = rename or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, errors in error.message_dict.items():
        field = rename.get(key, key)
        add_once(form, field if field in form.fields else None, errors)


def add_once(form, field, errors) -> None:
    """Add a service's error unless the bound form's own validation already says so (services validate
    with the same form classes, so the same problem would otherwise be listed twice)."""
    existing = form.errors.get(field or "__all__", [])
    fresh = [e for e in errors if e not in existing]
    if fresh:
        form.add_error(field, fresh)


def duration(ms) -> str:
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def finish(request, url: str):
    """A successful POST: a 302, or for htmx (the upload forms post with hx-post, to show upload progress) an
    empty answer with HX-Redirect, since XMLHttpRequest would follow a 302 itself and fetch, and audit, the next
    page twice."""
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def oversize_message(request) -> str | None:
    if getattr(request, "upload_over_request_limit", False):
        limit = filesizeformat(settings.MAX_REQUEST_UPLOAD_BYTES)
        return f"The files you chose total more than {limit}, the limit for one upload. Nothing was saved."
    names = getattr(request, "oversize_uploads", None)
    if not names:
        return None
    listed = ", ".join(safe_filename(n) for n in names)
    limit = filesizeformat(settings.MAX_UPLOAD_BYTES)
    return f"{listed}: larger than the {limit} limit per file. Nothing was saved."


def max_upload_mb() -> int:
    return int(settings.MAX_UPLOAD_BYTES / (1024 * 1024))
