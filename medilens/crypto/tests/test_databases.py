"""Encryption on both databases the project runs on, from an empty schema, in a fresh process each: the
embedded SQLite (the settings with no environment) and PostgreSQL (production settings, a scratch
database). The probe (database_probe.py) plants plaintext rows before the encryption migrations, migrates,
and reports what the raw rows hold, what reads and searches return, what moved ciphertexts do, and what
key rotation and unapplying the migrations leave. Then a process started with a wrong master key must
refuse to start, naming FIELD_ENCRYPTION_KEYS."""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PLANTED_VALUES = ["Nadia", "Castillo", "Żurawska", "Zurawska", "QX-90417", "1931-07-29", "Quenby"]
EXPECTED_READ = {
    "patient": [
        "QX-90417", "Nadia", "Castillo-Żurawska", "1931-07-29", "Sister Philippa Quenby has the same condition"
    ],
    "review_note": "Discussed with Nadia Castillo-Zurawska on the phone",
    "message": "Ask Nadia Castillo-Zurawska about QX-90417",
    "filename": "Castillo QX-90417 referral.pdf",
}
EXPECTED_SEARCH = {
    "cast": ["nadia"],
    "Castillo, Nadia": ["nadia"],
    "Nadia Castillo": ["nadia"],
    "castillo-zurawska": ["nadia"],
    "ZURAWSKA": ["nadia"],
    "QX-90417": ["nadia"],
    "qx-904": ["nadia"],
    "qx-9": ["nadia", "olaf"],
    "1931-07-29": ["nadia"],
    "obrien": ["olaf"],
    "o'bri": ["olaf"],
    "olaf o": ["olaf"],
    "nobody": [],
    "qx": [],  # an MRN prefix needs 3 characters
}
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _run(args, env, timeout=600):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=base | env, capture_output=True, text=True, timeout=timeout
    )


def _sqlite_env(tmp_path) -> dict:
    return {"DJANGO_SETTINGS_MODULE": "medilens.settings", "MEDILENS_VAR_DIR": str(tmp_path / "var"),
            "HOME": str(tmp_path)}


def _postgres_env(tmp_path, database: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "DATABASE_POOL": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "MEDILENS_VAR_DIR": str(tmp_path / "var"),
        "HOME": str(tmp_path),
    }


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(sql)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield request.param, _sqlite_env(tmp_path)
        return
    # Its own scratch database, named after this checkout and test process (two never share it).
    checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]
    name = f"medilens_phi_probe_{checkout}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield request.param, _postgres_env(tmp_path, name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_phi_is_sealed_searchable_rotatable_and_bound_to_its_place(database):
    vendor, env = database
    result = _run(["-m", "medilens.crypto.tests.database_probe"], env)
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["vendor"] == vendor

    # The raw scan finds plaintext when it is there (before the migration), and none after.
    assert set(out["plaintext_before"]) == set(PLANTED_VALUES)
    assert out["plaintext_after"] == []
    assert out["read"] == EXPECTED_READ
    assert out["search"] == EXPECTED_SEARCH

    rotation = out["rotation"]
    assert rotation["wrapped_by"] == [rotation["new_key_id"]]
    assert rotation["after_rewrap"] == EXPECTED_READ
    assert rotation["data_key_versions"] == [2]
    assert rotation["after_data_keys"] == EXPECTED_READ
    assert rotation["search_after_rotation"] == ["nadia"]
    assert out["plaintext_after_rotation"] == []

    # Reversible: unapplying opens every value again; reapplying seals them again.
    assert set(out["plaintext_after_unapply"]) == set(PLANTED_VALUES)
    assert out["read_after_reapply"] == EXPECTED_READ

    assert out["moved"] == {"other row": "refused", "other column": "refused", "other organization": "refused"}

    # A process started with a master key that wraps nothing here stops, naming the setting.
    wrong = env | {"FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}
    started = _run(["-c", "import medilens.wsgi"], wrong, timeout=120)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and "FIELD_ENCRYPTION_KEYS holds no master key" in started.stderr
    checked = _run(["manage.py", "check", "--database", "default"], wrong, timeout=120)
    assert checked.returncode != 0 and "crypto.E001" in checked.stderr + checked.stdout
