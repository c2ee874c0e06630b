"""Search on SQLite, the embedded default: test_search.py runs again in a subprocess with embedded settings
(directory/tests/sqlite_settings.py): a SQLite test database file with the migrations' FTS5 tables and
triggers, the file cache. This run is PostgreSQL's; that one must pass the same tests."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

MODULE = "directory/tests/test_search.py"


@pytest.mark.timeout(600)
def test_the_search_tests_pass_on_sqlite(tmp_path):
    var = tmp_path / "var"
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "AUDIT_", "AWS_", "PYTEST_")) and key not in ("REDIS_URL", "SECRET_KEY")
    }
    env.update({
        "MEDILENS_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "directory.tests.sqlite_settings",
        "DIRECTORY_TESTS_VENDOR": "sqlite",
    })
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--noconftest",
        "--ds", "directory.tests.sqlite_settings", "-o", "addopts=", "--timeout", "300", "-rA", MODULE,
    ]
    result = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=590)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    expected = len(re.findall(r"^def test_", (settings.BASE_DIR / MODULE).read_text(), flags=re.MULTILINE))
    assert re.search(rf"\b{expected} passed\b", output), output[-3000:]
    assert not re.search(r"\b(failed|skipped|error)", output.splitlines()[-1]), output[-3000:]
