"""Logging: no PHI in logs (search terms and bearer links scrubbed); request ids make events traceable.

LOG_FORMAT chooses the lines' shape: "json" (the default in production: one JSON object a line, for a log
pipeline) or "plain" (the default of the embedded demo: read by a person). Both carry the request id
(medilens/logging_request_id.py), which Celery workers carry too (medilens/logging_worker.py).
"""

from .base import *  # noqa: F403 (these settings build on the base's)

LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if EMBEDDED else "json")
if LOG_FORMAT not in ("json", "plain"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")

# --- Logging: no PHI in logs; request ids make events traceable. --------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        # python-json-logger, keeping only fields that hold no PHI (medilens/logging_json.py).
        "json": {"()": "medilens.logging_json.ScrubbedJsonFormatter"},
    },
    # Search terms and bearer links in logged URLs become [redacted] (medilens/log_scrub.py), before any
    # formatter sees the message; then the request id is put on the record.
    "filters": {
        "scrub": {"()": "medilens.log_scrub.ScrubFilter"},
        "request_id": {"()": "medilens.logging_request_id.RequestIdFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["scrub", "request_id"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint (PDF reports) logs each rendering step at INFO.
        "weasyprint": {"level": "WARNING"},
        # runserver's request log, through the scrubbing handler instead of Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
