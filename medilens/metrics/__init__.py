"""Prometheus metrics at /metrics, off unless METRICS_ENABLED (README, "Deployment: metrics").

- web: django-prometheus' request, response and exception metrics (its middleware, added by the settings);
- Celery: task counts by outcome, durations and retries, from the worker's task signals (celery_signals);
- queue depth: the broker's length of each queue, read when Prometheus scrapes (queues).

gunicorn and prefork Celery run several processes: with PROMETHEUS_MULTIPROC_DIR set (an empty directory,
the same one for every process of a machine) each process writes its figures there and a scrape adds them
up (registry.scrape_registry).
"""
