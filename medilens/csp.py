"""The Content-Security-Policy header. django-csp writes it from ``settings.CONTENT_SECURITY_POLICY``;
this middleware adds one source the settings cannot know: the origin the object store's presigned URLs
point at. An explanation image is an ``<img>`` whose URL redirects there, and a redirected image is
checked against ``img-src`` like any other."""

import logging
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

_PROBE_KEY = "csp-origin-probe"
logger = logging.getLogger(__name__)


def file_origin() -> str | None:
    """scheme://host[:port] of the presigned URLs the default storage hands out, None on the local disk
    (files are then served by our own signed-link view: 'self')."""
    storage = storages["default"]
    if not isinstance(storage, S3Storage):
        return None
    origin = getattr(storage, "_medilens_csp_origin", None)
    if origin is None:
        # Presigning is computed locally, with the endpoint browsers are given.
        try:
            parts = urlsplit(storage.url(_PROBE_KEY))
        except Exception:  # no credentials yet, say: pages still work, explanation images stay blocked
            logger.warning("could not work out the object store's origin for the Content-Security-Policy")
            return None
        origin = f"{parts.scheme}://{parts.netloc}"
        storage._medilens_csp_origin = origin
    return origin


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        origin = file_origin()
        if origin:
            update = dict(parts.update or {})
            update["img-src"] = [*_as_list(update.get("img-src")), origin]
            parts.update = update
        return parts


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]
