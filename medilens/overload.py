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

from medilens import unavailable

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
    return busy(request)


def busy(request):
    """The busy 503 (API error shape or the portal's page) with Retry-After, for a request refused before it ran."""
    return unavailable.answer(request, message=MESSAGE, retry_after=RETRY_AFTER_SECONDS, busy=True)
