"""Requests that waited too long before the app saw them are answered 503 at once, not served late.

gunicorn's timeout bounds how long a request runs, not how long it waits for a free thread: under more load than
the web hosts can serve, requests queue and are answered minutes later, after the client has given up (the
load test saw 130 s). The proxy stamps each request with the time it took it (nginx:
``proxy_set_header X-Request-Start "t=${msec}"``, docker/nginx/medilens.conf); a request older than
REQUEST_QUEUE_TIMEOUT_SECONDS when it reaches Django is refused with 503 and Retry-After, which costs microseconds
and lets the queue drain. Off (0) by default. The header needs no trust: a client that forges it can only have
its own request refused (the proxy overwrites it anyway).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)


def waited_seconds(header: str, now: float) -> float | None:
    """Seconds since the stamp ``t=<seconds since the epoch>`` (nginx's ${msec}: a decimal point, ms), or in
    milliseconds or microseconds (other proxies' habits); None if the header is not a stamp."""
    value = header.strip().removeprefix("t=")
    try:
        stamp = float(value)
    except ValueError:
        return None
    for scale in (1.0, 1e3, 1e6):  # seconds, milliseconds, microseconds since the epoch
        seconds = stamp / scale
        if abs(now - seconds) < 86400:
            return now - seconds
    return None


class QueueTimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.REQUEST_QUEUE_TIMEOUT_SECONDS
        header = request.headers.get("X-Request-Start", "")
        if limit > 0 and header:
            waited = waited_seconds(header, time.time())
            if waited is not None and waited > limit:
                from .overload import busy

                logger.warning("queue: %s waited %.1f s before the app saw it; answered 503", request.path, waited)
                return busy(request)
        return self.get_response(request)
