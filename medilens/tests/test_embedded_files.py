"""Issue 10: on the embedded install, var/ (the SQLite database, the secret key, uploaded files, the
embedded Redis's socket and append-only file, the demo credentials) was readable by every user of the
machine. It is 0700 and what the embedded processes write in it 0600."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the embedded processes do in var/: the database (with its write-ahead log), an uploaded file, the
# file cache, the demo credentials (seed_demo writes them with Path.write_text).
_EMBEDDED = """
import json, os, django
django.setup()
from pathlib import Path
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
var = Path(settings.VAR_DIR)
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("CREATE TABLE probe (x integer)")
    cursor.execute("INSERT INTO probe VALUES (1)")
    modes = {p.name: os.stat(p).st_mode for p in var.iterdir() if p.name.startswith("medilens.sqlite3")}
default_storage.save("org/1/assessments/a/upload.pdf", ContentFile(b"%PDF-1.4"))
cache.set("probe", 1)
(var / "demo-credentials.json").write_text("{}")
modes.update({str(p.relative_to(var)): os.stat(p).st_mode for p in var.rglob("*") if not p.is_socket()})
modes["."] = os.stat(var).st_mode
print(json.dumps(modes))
"""


def _environment(var_dir: Path, home: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "MEDILENS_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _usual_umask():
    # Started from a shell whose umask is the usual 022: the embedded default must not depend on it.
    os.umask(0o022)


def _run_embedded(var_dir: Path, home: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _EMBEDDED], cwd=ROOT, env=_environment(var_dir, home), capture_output=True,
        text=True, timeout=120, preexec_fn=_usual_umask,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _embedded_redis_files(var_dir: Path, home: Path) -> dict:
    """Run the Procfile's redis entry until its socket answers; the modes of what it created."""
    import redis

    server = subprocess.Popen(
        [sys.executable, "-m", "medilens.embedded_redis"], cwd=ROOT, env=_environment(var_dir, home),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_usual_umask,
    )
    socket_path = var_dir / "redis.sock"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping():
                    break
            except (redis.RedisError, OSError):
                pass
            assert time.monotonic() < deadline, "the embedded Redis did not answer"
            time.sleep(0.05)
        return {p.name: os.stat(p).st_mode for p in var_dir.iterdir()}
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.timeout(120)
def test_var_and_its_files_are_private_to_the_user(tmp_path):
    # An install made before: var/ and its files open to everyone.
    var = tmp_path / "var"
    var.mkdir()
    var.chmod(0o755)
    (var / "demo-credentials.json").write_text("{}")
    (var / "demo-credentials.json").chmod(0o644)
    (var / "media").mkdir()
    (var / "media").chmod(0o755)

    modes = _run_embedded(var, tmp_path)
    expected = {".", "secret_key", "medilens.sqlite3", "demo-credentials.json", "cache", "media"}
    assert expected <= set(modes), sorted(modes)
    assert any(name.startswith("medilens.sqlite3-wal") for name in modes), sorted(modes)
    assert any(name.startswith("media/org/1/assessments/a/") for name in modes), sorted(modes)
    redis_files = _embedded_redis_files(var, tmp_path)
    assert stat.S_ISSOCK(redis_files["redis.sock"]) and "embedded-redis.aof" in redis_files, sorted(redis_files)
    modes.update({name: mode for name, mode in redis_files.items() if name != "redis.sock"})
    exposed = {name: oct(stat.S_IMODE(mode)) for name, mode in modes.items() if stat.S_IMODE(mode) & 0o077}
    assert not exposed, exposed
    directories = {name for name, mode in modes.items() if stat.S_ISDIR(mode)}
    assert {".", "media", "cache"} <= directories
    assert all(stat.S_IMODE(modes[name]) == 0o700 for name in directories), directories
    assert stat.S_IMODE(redis_files["redis.sock"]) & 0o077 == 0
