"""Celery task metrics from the worker's signals: how many tasks ended in each way, and how long they ran.

Recorded only when METRICS_ENABLED. A worker's figures reach /metrics in one of two ways (README,
"Deployment: metrics"): web and workers on one machine share PROMETHEUS_MULTIPROC_DIR and the web's scrape
adds them up; a worker on its own machine serves them itself on CELERY_METRICS_PORT (worker_ready).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

TASKS = Counter(
    "medilens_celery_tasks", "Celery tasks that ended, by task name and outcome (succeeded, failed, retried)",
    ["task", "outcome"],
)
DURATION = Histogram(
    "medilens_celery_task_duration_seconds", "Run time of Celery tasks (from prerun to postrun), by task name",
    ["task"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf")),
)
_started: dict[str, float] = {}


def _enabled() -> bool:
    from django.conf import settings

    return bool(getattr(settings, "METRICS_ENABLED", False))


def _name(sender=None, task=None) -> str:
    return getattr(task or sender, "name", None) or "unknown"


def task_started(task_id=None, **kwargs) -> None:
    if task_id and _enabled():
        _started[task_id] = time.monotonic()


def task_ended(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None) if task_id else None
    if started is None or not _enabled():
        return
    DURATION.labels(task=_name(task=task)).observe(time.monotonic() - started)
    if state == "SUCCESS":
        TASKS.labels(task=_name(task=task), outcome="succeeded").inc()


def task_failed(sender=None, **kwargs) -> None:
    if _enabled():
        TASKS.labels(task=_name(sender), outcome="failed").inc()


def task_retried(sender=None, **kwargs) -> None:
    if _enabled():
        TASKS.labels(task=_name(sender), outcome="retried").inc()


def serve_worker_metrics(**kwargs) -> None:
    """worker_ready: a worker whose web is on another machine serves its figures on CELERY_METRICS_PORT
    (loopback unless CELERY_METRICS_ADDRESS says otherwise; Prometheus scrapes it over a private network)."""
    from django.conf import settings

    port = int(getattr(settings, "CELERY_METRICS_PORT", 0) or 0)
    if not port or not _enabled():
        return
    from prometheus_client import start_http_server

    from .registry import scrape_registry

    address = getattr(settings, "CELERY_METRICS_ADDRESS", "127.0.0.1")
    start_http_server(port, addr=address, registry=scrape_registry(with_queues=True))


def connect() -> None:
    from celery.signals import task_failure, task_postrun, task_prerun, task_retry, worker_ready

    task_prerun.connect(task_started, weak=False, dispatch_uid="medilens.metrics.prerun")
    task_postrun.connect(task_ended, weak=False, dispatch_uid="medilens.metrics.postrun")
    task_failure.connect(task_failed, weak=False, dispatch_uid="medilens.metrics.failure")
    task_retry.connect(task_retried, weak=False, dispatch_uid="medilens.metrics.retry")
    worker_ready.connect(serve_worker_metrics, weak=False, dispatch_uid="medilens.metrics.serve")
