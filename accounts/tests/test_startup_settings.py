"""Production start-up (DATABASE_URL set) refuses a weak SECRET_KEY and DJANGO_DEBUG=true, naming the
setting, instead of starting with a warning."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PROBE = "import django; django.setup(); print('started')"


def _start(tmp_path, **overrides):
    env = _start_env(tmp_path)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60
    )


def _start_env(tmp_path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/medilens",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "medilens.example.org",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }


@pytest.mark.parametrize(
    "key",
    [
        "short-but-random-" + secrets.token_urlsafe(8),
        "change-me-to-a-long-random-string",  # .env.example's placeholder
        "change-me-" + secrets.token_urlsafe(50),
        "x" * 60,
        "django-insecure-" + secrets.token_urlsafe(50),
    ],
    ids=["short", "example", "example-prefix", "repetitive", "django-insecure"],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key):
    result = _start(tmp_path, SECRET_KEY=key)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak for production" in result.stderr
    assert key not in result.stderr  # the refusal never prints the key


def test_production_refuses_debug(tmp_path):
    result = _start(tmp_path, DJANGO_DEBUG="true")
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_DEBUG must not be true" in result.stderr


def test_production_starts_with_a_strong_key_and_debug_off(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")


def test_the_embedded_demo_may_still_run_with_debug(tmp_path):
    env = {"DATABASE_URL": "", "MEDILENS_VAR_DIR": str(tmp_path / "var"), "DJANGO_DEBUG": "true", "SECRET_KEY": ""}
    result = _start(tmp_path, **env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value", ["0", "501", "-3", "abc", "3.5", ""])
def test_start_up_refuses_an_assessment_batch_size_outside_its_range(tmp_path, value):
    result = _start(tmp_path, ASSESSMENT_BATCH_SIZE=value)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: ASSESSMENT_BATCH_SIZE must be a whole number from 1 to 500, not {value!r}." in (
        result.stderr
    )


def test_start_up_takes_an_assessment_batch_size_in_its_range(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.ASSESSMENT_BATCH_SIZE)"],
        cwd=Path(settings.BASE_DIR), env={**_start_env(tmp_path), "ASSESSMENT_BATCH_SIZE": " 500 "},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "500"
