"""Prometheus metrics at /metrics (medilens/metrics): off by default; when on, only for the monitoring system."""

from .base import *  # noqa: F403 (these settings build on the base's)

METRICS_ENABLED = env.bool("METRICS_ENABLED", default=False)
# With a token, /metrics answers a request bearing it (from anywhere); without one, loopback clients only.
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
# A worker whose web runs on another machine serves its own task figures on this port (0: it does not).
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)
CELERY_METRICS_ADDRESS = env.str("CELERY_METRICS_ADDRESS", default="127.0.0.1")

if METRICS_ENABLED:
    INSTALLED_APPS.append("django_prometheus")
    # First and last: the "before" middleware starts the clock, the "after" one counts the response.
    MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
