"""A real Celery worker process for tests and benchmarks, against the test database and Redis."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class CeleryWorkerProcess:
    def __init__(
        self,
        env: dict,
        log_path: Path,
        *,
        queues: str = "default,inference,webhooks",
        pool: str = "solo",
        concurrency: int = 1,
        name: str = "test",
    ):
        self.env = {**os.environ, **env}
        self.log_path = Path(log_path)
        self.queues = queues
        self.pool = pool
        self.concurrency = concurrency
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "CeleryWorkerProcess":
        # 60 s: a worker on the retinal analysis' queue compiles skan's numba code before it is ready
        # (medilens.celery.warm_up: about 4 s here, several times that while the 2 cores are busy).
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        offset = self.log_path.stat().st_size
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "medilens",
            "worker",
            "-Q",
            self.queues,
            "--pool",
            self.pool,
            "--concurrency",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{self.name}-{os.getpid()}@%h",
        ]
        self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_tail()}")
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                if b" ready." in log.read():
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the worker dies without acknowledging what it was doing."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close()

    def stop(self, timeout: float = 15) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close()

    def _close(self):
        log = getattr(self, "_log", None)
        if log and not log.closed:
            log.close()


def worker_env(*, database_name: str, storage_options: dict | None, extra: dict | None = None) -> dict:
    """The environment that points a worker subprocess at this test session's database, Redis prefix
    and S3 bucket."""
    env = {
        "DJANGO_SETTINGS_MODULE": "medilens.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database_name}",
        "DATABASE_POOL": "false",
        "MEDILENS_TEST_SESSION": os.environ["MEDILENS_TEST_SESSION"],
        "PYTHONUNBUFFERED": "1",
    }
    if storage_options:
        env.update(
            {
                "AWS_STORAGE_BUCKET_NAME": storage_options["bucket_name"],
                "AWS_S3_ENDPOINT_URL": storage_options["endpoint_url"],
                "AWS_ACCESS_KEY_ID": storage_options["access_key"],
                "AWS_SECRET_ACCESS_KEY": storage_options["secret_key"],
            }
        )
    env.update(extra or {})
    return env
