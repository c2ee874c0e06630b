"""A service MediLens depends on not answering (Redis: the cache that counts rate limits and sign-in
failures, the Celery broker) is an outage, not a defect: the answer is a 503 with Retry-After, never a 500.

The API's exception handler (accounts/api.py) and the portal's 500 handler (medilens/views.server_error) ask
``is_outage``; the object store's outage at upload is answered where it happens (StorageUnavailable).
"""

from __future__ import annotations

RETRY_AFTER_SECONDS = 30
MESSAGE = "A service MediLens depends on is not answering. Try again in a minute."


def is_outage(error: BaseException | None) -> bool:
    if error is None:
        return False
    import redis
    from kombu.exceptions import OperationalError as BrokerUnavailable

    return isinstance(error, (redis.ConnectionError, redis.TimeoutError, BrokerUnavailable))


def answer(request, *, message: str, retry_after: int, busy: bool = False):
    """The 503 itself: the API's error shape or the portal's page (``busy``: overload rather than an outage),
    with Retry-After. Used for outages here and for overload (medilens/overload.py)."""
    from django.http import JsonResponse
    from django.shortcuts import render

    if request.path.startswith("/api/"):
        body = {"error": {"status": 503, "code": "service_unavailable", "message": message}}
        response = JsonResponse(body, status=503)
    else:
        response = render(request, "errors/503.html", {"busy": busy}, status=503)
    response["Retry-After"] = str(retry_after)
    return response
