"""Who is acting and where from, for the request (or task) being served.

The middleware fills this per request; Celery tasks and management commands set a system actor. The
audit service reads it so that callers never have to thread IPs and request ids through services.
"""

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext] = ContextVar("audit_request_context", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


@contextmanager
def bind(**values):
    token = _current.set(replace(_current.get(), **values))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex
