"""Overload answers 503 with Retry-After, never 500 (issue 16: "under load ... never a 500 and never a hang").

Two database errors mean the service is busy, not broken: psycopg's pool had no connection free within
DATABASE_POOL_TIMEOUT (``PoolTimeout``), or a statement ran past DATABASE_STATEMENT_TIMEOUT_SECONDS
(``QueryCanceled``). Django wraps both in ``django.db.OperationalError``; the handler500 view
(medilens.views.server_error) asks ``is_overload`` about the exception it is handling and answers with
``overloaded`` instead: the API's JSON error shape or the portal's page, and ``Retry-After``. The request's
transaction was rolled back by then, so nothing it meant to write was written.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
MESSAGE = "The service is busy and could not answer in time; nothing was changed. Retry after a few seconds."


def is_overload(error: BaseException | None) -> bool:
    if not isinstance(error, OperationalError):
        return False
    from psycopg.errors import QueryCanceled
    from psycopg_pool import PoolTimeout

    cause = error.__cause__
    return isinstance(cause, (PoolTimeout, QueryCanceled))


def overloaded(request, error: BaseException):
    logger.warning("overloaded: %s answered 503 (%s)", request.path, type(error.__cause__).__name__)
    return unavailable(request)


def unavailable(request):
    """503 with Retry-After: the API's error shape under /api/, the portal's busy page elsewhere."""
    if request.path.startswith("/api/"):
        body = {"error": {"status": 503, "code": "service_unavailable", "message": MESSAGE}}
        response = JsonResponse(body, status=503)
    else:
        response = render(request, "errors/503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
