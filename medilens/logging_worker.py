"""A Celery worker's log lines in the same shape as the web's: scrubbed, with the request id, JSON when
LOG_FORMAT says so.

A worker replaces the root logger's handlers with its own (Celery "hijacks" the root logger) and gives
task loggers a handler of their own, so Django's LOGGING does not reach them. After Celery has set each
one up, its handlers get the scrub filter first (no PHI in a worker's lines either), then the request-id
filter, and under LOG_FORMAT=json the formatter of settings.LOGGING's "json" entry. With "plain", Celery's
own format stays (it names the task and its id).
"""

from __future__ import annotations

import logging
import logging.config

from medilens.log_scrub import ScrubFilter
from medilens.logging_request_id import RequestIdFilter


def _settings_formatter(name: str) -> logging.Formatter:
    from django.conf import settings

    configurator = logging.config.DictConfigurator(settings.LOGGING)
    return configurator.configure_formatter(dict(settings.LOGGING["formatters"][name]))


def dress_handlers(logger: logging.Logger | None = None, **kwargs) -> None:
    """after_setup_logger / after_setup_task_logger: filters (and the JSON formatter) on its handlers."""
    from django.conf import settings

    if logger is None:
        return
    formatter = _settings_formatter("json") if settings.LOG_FORMAT == "json" else None
    for handler in logger.handlers:
        if not any(isinstance(existing, ScrubFilter) for existing in handler.filters):
            handler.addFilter(ScrubFilter())
            handler.addFilter(RequestIdFilter())
        if formatter is not None:
            handler.setFormatter(formatter)


def connect() -> None:
    from celery.signals import after_setup_logger, after_setup_task_logger

    after_setup_logger.connect(dress_handlers, weak=False, dispatch_uid="medilens.logging.root")
    after_setup_task_logger.connect(dress_handlers, weak=False, dispatch_uid="medilens.logging.task")
