"""Project-level guarantees: migrations match the models, production settings pass ``check --deploy``
and refuse to start without a secret, the embedded default is safe with no environment at all, README's
role table is the code's, and the health endpoints answer."""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from accounts.roles import markdown_table

BASE_DIR = Path(settings.BASE_DIR)


def _run(args, env, timeout=120):
    """Run a Python command of this project in a fresh process with exactly ``env`` (plus PATH)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=base | env, capture_output=True, text=True, timeout=timeout
    )


def _production_env(**overrides):
    env = {
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/medilens",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "medilens.example.org",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AWS_STORAGE_BUCKET_NAME": "medilens",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


# --- the suite itself ----------------------------------------------------------------------------------
def test_every_test_folder_is_collected_by_make_test():
    """``make test`` collects only ``testpaths``: a new app's tests/ left out of it would never run in CI."""
    import tomllib

    testpaths = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    folders = {
        path.parent.relative_to(BASE_DIR).parts[0]
        for path in BASE_DIR.glob("*/**/test_*.py")
        if not path.relative_to(BASE_DIR).parts[0].startswith((".", "var"))
    }
    assert folders - set(testpaths) == set(), "add these to testpaths in pyproject.toml"


# --- migrations -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_migrations_match_the_models(capsys):
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=1)
    except SystemExit:  # makemigrations --check exits 1 when a migration is missing
        pytest.fail(f"makemigrations --check found model changes without a migration:\n{capsys.readouterr().out}")


# --- production settings ----------------------------------------------------------------------------
def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(HOME=str(tmp_path))
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output.upper().replace("NO ISSUES", "")
    assert "?: (security." not in output


def test_production_settings_refuse_to_load_without_a_secret_key(tmp_path):
    result = _run(["manage.py", "check"], _production_env(SECRET_KEY=None, HOME=str(tmp_path)))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ImproperlyConfigured" in output
    assert "SECRET_KEY must be set" in output


def test_production_settings_are_secure():
    result = _run(
        [
            "-c",
            "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
            "'debug': s.DEBUG, 'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE,"
            "'hsts': s.SECURE_HSTS_SECONDS, 'ssl_redirect': s.SECURE_SSL_REDIRECT,"
            "'engine': s.DATABASES['default']['ENGINE'], 'conn_max_age': s.DATABASES['default']['CONN_MAX_AGE'],"
            "'pool': 'pool' in s.DATABASES['default'].get('OPTIONS', {}), 'hosts': s.ALLOWED_HOSTS}))",
        ],
        _production_env(),
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "debug": False,
        "session_secure": True,
        "csrf_secure": True,
        "hsts": 31536000,
        "ssl_redirect": True,
        "engine": "django.db.backends.postgresql",
        "conn_max_age": 0,
        "pool": True,
        "hosts": ["medilens.example.org"],
    }


# --- the embedded default ---------------------------------------------------------------------------
_EMBEDDED_PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
    "'debug': s.DEBUG, 'secret': s.SECRET_KEY, 'engine': s.DATABASES['default']['ENGINE'],"
    "'database': str(s.DATABASES['default']['NAME'])}))"
)


def test_with_no_environment_debug_is_off_and_a_secret_is_generated_and_kept(tmp_path):
    var_dir = tmp_path / "var"
    env = {"MEDILENS_VAR_DIR": str(var_dir), "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "medilens.settings"}

    first = _run(["-c", _EMBEDDED_PROBE], env)
    assert first.returncode == 0, first.stderr
    values = json.loads(first.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["database"].startswith(str(var_dir))

    secret_file = var_dir / "secret_key"
    assert secret_file.read_text().strip() == values["secret"]
    assert len(values["secret"]) >= 50
    assert secret_file.stat().st_mode & 0o077 == 0, "the secret file is readable by others"

    second = _run(["-c", _EMBEDDED_PROBE], env)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1])["secret"] == values["secret"]

    # And another checkout (another var dir) gets its own secret.
    other = _run(["-c", _EMBEDDED_PROBE], env | {"MEDILENS_VAR_DIR": str(tmp_path / "other")})
    assert json.loads(other.stdout.strip().splitlines()[-1])["secret"] != values["secret"]


def test_the_secret_file_is_not_in_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "var/secret_key"], cwd=BASE_DIR, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "var/ must be git-ignored: it holds the generated secret"


# --- README ------------------------------------------------------------------------------------------
def test_readme_shows_the_role_table_from_the_code():
    readme = (BASE_DIR / "README.md").read_text()
    assert markdown_table() in readme, "README.md's role table differs from accounts.roles.markdown_table()"


# --- health -------------------------------------------------------------------------------------------
def test_healthz_answers_without_checking_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_with_every_service_reachable(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "storage": "ok"},
    }


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    from medilens.celery import app
    from medilens.views import READINESS_CHECKS

    assert set(READINESS_CHECKS) == {"database", "cache", "broker", "storage"}
    unreachable = f"redis://127.0.0.1:{_unused_port()}/0"
    monkeypatch.setattr(app.conf, "broker_url", unreachable)
    with app.connection_for_write() as connection:  # the check's connection really goes there
        assert connection.as_uri().endswith(unreachable.split("//", 1)[1])
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "failed", "storage": "ok"}
    # The reason goes to the log only: the answer names the dependency, not its address.
    assert "127.0.0.1" not in response.content.decode()
