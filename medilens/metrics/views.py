"""GET /metrics: Prometheus' text format, for the monitoring system only.

The figures hold no PHI, but they say how busy which queue is, which paths fail, how many workers run: an
information leak if public. So the endpoint answers only when METRICS_ENABLED, and then only to

- a request bearing ``Authorization: Bearer <METRICS_BEARER_TOKEN>`` when that token is set, or
- with no token set, a loopback client that did not come through a proxy (no X-Forwarded-For or
  Forwarded header): a proxy on the same machine would otherwise make every outside client loopback.

Anything else is the portal's 404, as if the route did not exist.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from .registry import exposition


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def allowed(request) -> bool:
    if not settings.METRICS_ENABLED:
        return False
    token = settings.METRICS_BEARER_TOKEN
    if token:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())
    proxied = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    return not proxied and _is_loopback(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_GET
def metrics(request):
    if not allowed(request):
        raise Http404
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
