"""Queue depth: how many messages wait in each Celery queue, read from the broker when Prometheus scrapes.

A gauge set by a loop would be stale or need a process of its own; reading LLEN at scrape time costs one
round trip a queue. Redis down gives ``medilens_celery_broker_up 0`` and no depths, within a short socket
timeout, never a hung scrape.
"""

from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)
SOCKET_TIMEOUT_SECONDS = 2.0


def queue_names() -> list[str]:
    from django.conf import settings

    from modalities import registry

    names = {settings.CELERY_TASK_DEFAULT_QUEUE, settings.WEBHOOK_QUEUE}
    names |= {registry.get(name).modality.queue for name in registry.names()}
    if settings.CELERY_MAINTENANCE_QUEUE:
        names.add(settings.CELERY_MAINTENANCE_QUEUE)
    return sorted(names)


def queue_depths(names: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (all priority levels); raises if the broker cannot be reached."""
    from medilens.celery import app

    options = {"socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS}
    with app.connection_for_read(transport_options=options) as connection:
        connection.ensure_connection(max_retries=1)
        channel = connection.default_channel
        # kombu's Redis channel keeps a queue in one list per priority step; _size adds them up, through the
        # client that applies the deployment's global_keyprefix.
        return {name: int(channel._size(name)) for name in names}


class QueueDepthCollector:
    def collect(self):
        depth = GaugeMetricFamily(
            "medilens_celery_queue_depth", "Messages waiting in a Celery queue (not yet taken by a worker)",
            labels=["queue"],
        )
        up = GaugeMetricFamily("medilens_celery_broker_up", "1 when the broker answered this scrape, else 0")
        try:
            depths = queue_depths(queue_names())
        except Exception as error:  # any broker failure is a 0 here, and a line in the log, never a 500
            logger.warning("metrics: queue depth unavailable (%s)", type(error).__name__)
            up.add_metric([], 0)
        else:
            for name, count in depths.items():
                depth.add_metric([name], count)
            up.add_metric([], 1)
        yield depth
        yield up
