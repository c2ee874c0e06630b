"""The audit trail on SQLite, the embedded default: the tamper, legacy, restore, sealing-order and upgrade tests
run again in a subprocess with embedded settings (audit/tests/sqlite_settings.py): a SQLite test database
file with the migrations' triggers, checkpoints on the local disk, and the sealing key the demo generates
into var/. This run is PostgreSQL's; that one must pass the same tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

MODULES = [
    "audit/tests/test_tamper.py",
    "audit/tests/test_legacy.py",
    "audit/tests/test_restore.py",
    "audit/tests/test_sealing_order.py",
    "audit/tests/test_migration.py",
]


def collected(paths) -> int:
    """How many tests these modules hold, counted by this (PostgreSQL) run's own collection."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *paths],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=300,
    )
    match = re.search(r"(\d+) tests? collected", result.stdout)
    assert match, result.stdout + result.stderr
    return int(match.group(1))


@pytest.mark.timeout(600)
def test_the_audit_trail_tests_pass_on_sqlite(tmp_path):
    var = tmp_path / "var"
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "AUDIT_", "AWS_", "PYTEST_")) and key not in ("REDIS_URL", "SECRET_KEY")
    }
    env.update({
        "MEDILENS_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "audit.tests.sqlite_settings",
        "AUDIT_TESTS_VENDOR": "sqlite",
    })
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
        "--confcutdir", "audit/tests", "--ds", "audit.tests.sqlite_settings",
        "-o", "addopts=", "--timeout", "300", *MODULES,
    ]
    result = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=590)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    expected = collected(MODULES)
    assert re.search(rf"\b{expected} passed\b", output), output[-3000:]
    assert not re.search(r"\b(failed|skipped|error)", output.splitlines()[-1]), output[-3000:]
    # The run really was the embedded default: its database file and generated key are in its var/.
    assert (var / "audit_hmac_key").stat().st_size >= 48
    assert Path(var / "media").is_dir()
