"""Logging: no PHI in logs (search terms and bearer links scrubbed); request ids make events traceable."""

from .base import *  # noqa: F403 (these settings build on the base's)

# --- Logging: no PHI in logs; request ids make events traceable. --------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Search terms and bearer links in logged URLs become [redacted] (medilens/log_scrub.py).
    "filters": {"scrub": {"()": "medilens.log_scrub.ScrubFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["scrub"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint (PDF reports) logs each rendering step at INFO.
        "weasyprint": {"level": "WARNING"},
        # runserver's request log, through the scrubbing handler instead of Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
