"""Shared set-up for the benchmark scripts (imported by them; not a benchmark itself).

Each benchmark gets:

* its own PostgreSQL database ``medilens_bench_<name>`` on 127.0.0.1:5432, created (after dropping a
  leftover of an earlier run) through the ``postgres`` database, migrated, and dropped at the end;
* its own key prefix on the shared Redis (cache and Celery broker), whose keys are deleted at the end;
* a production-like environment: ``DJANGO_SETTINGS_MODULE=medilens.settings`` with ``DATABASE_URL``
  set (so PostgreSQL with psycopg's pool, Redis cache and broker, the secure defaults), a random
  ``SECRET_KEY``, ``DJANGO_SECURE_SSL_REDIRECT=false`` and ``ALLOWED_HOSTS=*`` (the benchmarks talk
  plain HTTP on loopback or through Django's test client), and a temporary ``MEDILENS_VAR_DIR``.

Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


class Bench:
    """Environment, database and Redis prefix of one benchmark run. Use as a context manager:
    ``setup()`` on entry (env, database, django.setup(), migrate), ``teardown()`` on exit."""

    def __init__(self, name: str, *, extra_env: dict[str, str] | None = None):
        self.name = name
        self.token = secrets.token_hex(4)
        self.db_name = f"medilens_bench_{name}"
        self.prefix = f"medilens-bench-{name}-{self.token}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"medilens-bench-{name}-"))
        self.extra_env = dict(extra_env or {})
        self.env: dict[str, str] = {}

    # --- environment ----------------------------------------------------------------------------
    def build_env(self) -> dict[str, str]:
        env = {
            "DJANGO_SETTINGS_MODULE": "medilens.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.db_name}",
            "REDIS_URL": REDIS_URL,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "*",
            "CACHE_KEY_PREFIX": self.prefix,
            "CELERY_KEY_PREFIX": f"{self.prefix}:",
            "MEDILENS_VAR_DIR": str(self.tmp / "var"),
            # medilens.testing.worker.worker_env reads it (the benchmarks use that helper).
            "MEDILENS_TEST_SESSION": f"bench-{self.token}",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        # No AWS_* from the caller's shell: a benchmark that wants S3 passes it in extra_env.
        for key in list(os.environ):
            if key.startswith("AWS_"):
                del os.environ[key]
        env.update(self.extra_env)
        return env

    # --- lifecycle ------------------------------------------------------------------------------
    def setup(self, *, migrate: bool = True) -> Bench:
        import warnings

        import psycopg

        self.env = self.build_env()
        os.environ.update(self.env)
        # WhiteNoise warns once that STATIC_ROOT (collectstatic's output) does not exist: not measured here.
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.db_name}"')
        import django

        django.setup()
        if migrate:
            from django.core.management import call_command

            began = time.perf_counter()
            call_command("migrate", verbosity=0, interactive=False)
            print(f"[setup] database {self.db_name} migrated in {time.perf_counter() - began:.1f} s", flush=True)
        return self

    def teardown(self) -> None:
        try:
            from django.db import connections

            for connection in connections.all():
                connection.close()
                close_pool = getattr(connection, "close_pool", None)
                if close_pool is not None:
                    try:
                        close_pool()
                    except Exception as error:  # best effort at exit
                        print(f"[teardown] closing the pool: {error!r}", file=sys.stderr)
        except Exception as error:  # django may not have been set up
            print(f"[teardown] closing connections: {error!r}", file=sys.stderr)
        try:
            import psycopg

            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except Exception as error:  # noqa: BLE001
            print(f"[teardown] could not drop {self.db_name}: {error}", file=sys.stderr)
        removed = self.clean_redis()
        shutil.rmtree(self.tmp, ignore_errors=True)
        print(f"[teardown] dropped {self.db_name}; removed {removed} Redis keys under {self.prefix}", flush=True)

    def clean_redis(self) -> int:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        removed = 0
        for key in client.scan_iter(match=f"*{self.prefix}*", count=1000):
            removed += client.delete(key)
        client.close()
        return removed

    def __enter__(self) -> Bench:
        try:
            return self.setup()
        except BaseException:
            self.teardown()
            raise

    def __exit__(self, *exc) -> None:
        self.teardown()


# --- figures ------------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def table(headers: list[str], rows: list[list], title: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    if title:
        lines.append(title)
    rule = "  ".join("-" * w for w in widths)
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if index == 0:
            lines.append(rule)
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.1f}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def machine() -> str:
    cpus = os.cpu_count()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {platform.system()} {platform.machine()}, {cpus} CPUs; "
        f"Python {platform.python_version()}; load average {load}"
    )
