"""Webhooks to partner systems (webhooks/): network guard, timeouts, retry schedule, queue."""

from .base import *  # noqa: F403 (these settings build on the base's)
from .tasks import CELERY_BEAT_SCHEDULE

# The queue deliveries run on: a slow partner must not hold up the work on "default".
WEBHOOK_QUEUE = env.str("WEBHOOK_QUEUE", default="webhooks")  # noqa: F405
# Endpoint URLs must be https in production; the embedded demo talks to local receivers over http.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=not EMBEDDED)  # noqa: F405
# SSRF guard: an endpoint resolving to a private, loopback, link-local or metadata address is refused,
# unless this is true (the embedded demo) or the address is inside one of WEBHOOK_ALLOWED_NETWORKS (CIDRs).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=EMBEDDED)  # noqa: F405
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])  # noqa: F405
# Certificates of https endpoints are checked against the system's CAs, or this bundle (a PEM file) if set.
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")  # noqa: F405
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)  # noqa: F405
WEBHOOK_TOTAL_TIMEOUT = env.float("WEBHOOK_TOTAL_TIMEOUT", default=10.0)  # noqa: F405
# Retries on timeouts, connection errors and 5xx: exponential from the base, capped, with jitter, for as long
# as the window lasts after the event; then the delivery fails and its endpoint is marked failing.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)  # noqa: F405
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3 * 60 * 60.0)  # noqa: F405
WEBHOOK_RETRY_WINDOW_SECONDS = env.float("WEBHOOK_RETRY_WINDOW_SECONDS", default=24 * 60 * 60.0)  # noqa: F405
# A retry further away than this is not held by the broker (a countdown longer than the transport's
# visibility timeout would be redelivered early): the beat sweep publishes it when it falls due.
WEBHOOK_MAX_COUNTDOWN_SECONDS = env.float("WEBHOOK_MAX_COUNTDOWN_SECONDS", default=300.0)  # noqa: F405
# After a secret is rotated, deliveries carry the old secret's signature too for this long.
WEBHOOK_PREVIOUS_SECRET_SECONDS = env.int("WEBHOOK_PREVIOUS_SECRET_SECONDS", default=24 * 60 * 60)  # noqa: F405

CELERY_BEAT_SCHEDULE["publish-due-webhook-deliveries"] = {  # noqa: F405
    "task": "webhooks.tasks.publish_due_deliveries", "schedule": 60.0, "options": {"expires": 60},
}
