"""/metrics: off by default; when on, only for a bearer of the token or a loopback client not behind a proxy;
django-prometheus' request figures, queue depth read from the broker, and a worker's task figures."""

import secrets
import time
import uuid

import pytest
from django.test import Client
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from medilens.metrics.queues import QueueDepthCollector, queue_depths


def _samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_are_a_404_while_disabled(client, db, settings):
    settings.METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    ("token", "headers", "remote", "expected"),
    [
        ("", {}, "127.0.0.1", 200),
        ("", {}, "::1", 200),
        ("", {}, "203.0.113.9", 404),
        # A proxy on the same machine makes every client loopback: a proxied request is refused.
        ("", {"X-Forwarded-For": "203.0.113.9"}, "127.0.0.1", 404),
        ("", {"Forwarded": "for=203.0.113.9"}, "127.0.0.1", 404),
        ("s3cret-token-for-prometheus", {"Authorization": "Bearer s3cret-token-for-prometheus"}, "203.0.113.9", 200),
        ("s3cret-token-for-prometheus", {"Authorization": "Bearer wrong"}, "203.0.113.9", 404),
        # With a token set, loopback alone is not enough.
        ("s3cret-token-for-prometheus", {}, "127.0.0.1", 404),
    ],
)
def test_who_may_read_the_metrics(db, settings, token, headers, remote, expected):
    settings.METRICS_ENABLED, settings.METRICS_BEARER_TOKEN = True, token
    response = Client(REMOTE_ADDR=remote).get("/metrics", headers=headers)
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"].startswith("text/plain")
        assert "medilens_celery_broker_up 1.0" in response.content.decode()


def test_django_prometheus_counts_the_requests(db, settings):
    settings.METRICS_ENABLED = True
    settings.MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *settings.MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    client = Client()  # a new client loads the middleware above
    before = _samples(client.get("/metrics").content.decode())
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    after = _samples(client.get("/metrics").content.decode())

    key = ("django_http_responses_total_by_status_view_method_total",
           (("method", "GET"), ("status", "200"), ("view", "healthz")))  # fmt: skip
    assert after[key] - before.get(key, 0) == 3


def test_queue_depth_counts_the_waiting_messages_of_a_queue():
    from medilens.celery import app

    queue = f"depth-{secrets.token_hex(4)}"  # consumed by no worker
    try:
        for _ in range(3):
            app.send_task("assessments.tasks.run_assessment", args=[str(uuid.uuid4())], queue=queue)
        assert queue_depths([queue]) == {queue: 3}
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    assert queue_depths([queue]) == {queue: 0}


def test_an_unreachable_broker_reads_as_down_not_as_an_error(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    from medilens.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        started = time.monotonic()
        families = {family.name: family for family in QueueDepthCollector().collect()}
        elapsed = time.monotonic() - started
    finally:
        app.conf.broker_url = previous
    assert [sample.value for sample in families["medilens_celery_broker_up"].samples] == [0]
    assert families["medilens_celery_queue_depth"].samples == []
    assert elapsed < 10


def _worker_samples(metrics_dir) -> dict[tuple, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_a_workers_task_counts_and_durations_reach_the_metrics(observed_worker):
    from assessments.tasks import run_assessment

    name = "assessments.tasks.run_assessment"
    succeeded = ("medilens_celery_tasks_total", (("outcome", "succeeded"), ("task", name)))
    failed = ("medilens_celery_tasks_total", (("outcome", "failed"), ("task", name)))
    durations = ("medilens_celery_task_duration_seconds_count", (("task", name),))
    before = _worker_samples(observed_worker.metrics_dir)

    run_assessment.apply_async(args=[str(uuid.uuid4())], queue=observed_worker.queue)  # "missing": succeeds
    # No argument: fails in the worker (send_task skips the publisher's own argument check).
    run_assessment.app.send_task(name, args=[], queue=observed_worker.queue)

    def grew(key, by):
        return _worker_samples(observed_worker.metrics_dir).get(key, 0) - before.get(key, 0) >= by

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (grew(succeeded, 1) and grew(failed, 1) and grew(durations, 2)):
        time.sleep(0.1)
    after = _worker_samples(observed_worker.metrics_dir)
    assert after.get(succeeded, 0) - before.get(succeeded, 0) == 1, observed_worker.log_tail()
    assert after.get(failed, 0) - before.get(failed, 0) == 1
    assert after.get(durations, 0) - before.get(durations, 0) == 2
