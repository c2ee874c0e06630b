"""The request id on every log line, in the web process and in the worker that runs the request's tasks.

The web side already has the id: ``audit.middleware.RequestContextMiddleware`` keeps a well-formed incoming
``X-Request-ID`` or makes one, binds it in ``audit.context`` and returns it in the response header.
``RequestIdFilter`` copies it onto each log record (``record.request_id``, "-" outside any request).

A task published while a request id is bound carries it in its message headers (``before_task_publish``);
the worker binds it again for the length of the task (``task_prerun`` / ``task_postrun``), so the task's
log lines carry the id of the request that caused them. Tasks bind their own audit request id
(``task-<celery id>``) for the audit trail; the log keeps the originating one, which is what an operator
follows from a partner's complaint to the worker's lines. A task published by a task passes it on.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

from audit import context as audit_context

HEADER = "medilens_request_id"
# What the middleware accepts from a client; anything else in a header is dropped, not logged.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_origin: ContextVar[str] = ContextVar("medilens_origin_request_id", default="")
_task_tokens: dict[str, object] = {}


def current_request_id() -> str:
    """The id of the request this code runs for: the originating request in a task, else the bound one."""
    return _origin.get() or audit_context.current().request_id


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record that passes the handler ("-" when there is none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            # Django logs a 4xx/5xx response (django.request) after the middleware has unbound the id, with
            # the request on the record.
            from_request = getattr(getattr(record, "request", None), "request_id", "")
            record.request_id = current_request_id() or from_request or "-"
        return True


def add_request_id_header(headers: dict | None = None, **kwargs) -> None:
    """before_task_publish: the current request id travels in the task's message headers."""
    request_id = current_request_id()
    if headers is not None and request_id and HEADER not in headers:
        headers[HEADER] = request_id


def bind_task_request_id(task_id: str | None = None, task=None, **kwargs) -> None:
    """task_prerun: the worker binds the id its message carries until the task ends."""
    supplied = (task.request.get(HEADER) if task is not None else None) or ""
    if task_id and isinstance(supplied, str) and _WELL_FORMED.match(supplied):
        _task_tokens[task_id] = _origin.set(supplied)


def unbind_task_request_id(task_id: str | None = None, **kwargs) -> None:
    """task_postrun: the next task on this worker starts without the last one's id."""
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            _origin.reset(token)
        except ValueError:  # set in another context (a thread pool): clearing it is what matters
            _origin.set("")


def connect() -> None:
    """Connect the three Celery signals (idempotent: Celery's signals skip a handler already connected)."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(add_request_id_header, weak=False, dispatch_uid="medilens.request_id.publish")
    task_prerun.connect(bind_task_request_id, weak=False, dispatch_uid="medilens.request_id.prerun")
    task_postrun.connect(unbind_task_request_id, weak=False, dispatch_uid="medilens.request_id.postrun")
