"""Master keys: required in production, generated and kept for the embedded demo, refused when malformed or
wrong with a message naming FIELD_ENCRYPTION_KEYS, never a plaintext fallback."""

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from accounts.tenancy import scopes_disabled
from assessments.models import Patient
from assessments.tests.portal import make_patient
from medilens.crypto import checks, keyring, masterkeys
from medilens.crypto.models import OrganizationKey

BASE_DIR = Path(settings.BASE_DIR)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _run(args, env):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=base | env, capture_output=True, text=True, timeout=120
    )


def _production(tmp_path, **overrides):
    env = {
        "DJANGO_SETTINGS_MODULE": "medilens.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/medilens",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": _key(),
        "HOME": str(tmp_path),
        "MEDILENS_VAR_DIR": str(tmp_path / "var"),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "FIELD_ENCRYPTION_KEYS must be set when DATABASE_URL is set"),
        ("", "FIELD_ENCRYPTION_KEYS must be set when DATABASE_URL is set"),
        ("not-a-key", "FIELD_ENCRYPTION_KEYS: entry 1 is not a base64-encoded 32-byte key"),
        (base64.b64encode(b"x" * 16).decode(), "FIELD_ENCRYPTION_KEYS: entry 1 is not a base64-encoded 32-byte"),
    ],
    ids=["missing", "empty", "not base64", "16 bytes"],
)
def test_production_refuses_to_start_without_a_valid_master_key(tmp_path, value, message):
    result = _run(["manage.py", "check"], _production(tmp_path, FIELD_ENCRYPTION_KEYS=value))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ImproperlyConfigured" in output and message in output


def test_the_embedded_demo_generates_a_private_master_key_once_and_keeps_it(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "medilens.settings", "MEDILENS_VAR_DIR": str(tmp_path / "var"),
           "HOME": str(tmp_path)}
    probe = ("import json, django; django.setup(); from django.conf import settings as s; "
             "print(json.dumps(s.FIELD_ENCRYPTION_KEYS))")
    first = _run(["-c", probe], env)
    assert first.returncode == 0, first.stderr
    keys = json.loads(first.stdout.strip().splitlines()[-1])
    path = tmp_path / "var" / "field_encryption_key"
    assert keys == [path.read_text().strip()] and len(base64.urlsafe_b64decode(keys[0])) == 32
    assert path.stat().st_mode & 0o077 == 0, "the key file is readable by others"
    again = _run(["-c", probe], env)
    assert json.loads(again.stdout.strip().splitlines()[-1]) == keys


def test_the_key_file_is_not_in_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/field_encryption_key"], cwd=BASE_DIR, check=False)
    assert ignored.returncode == 0


@pytest.mark.django_db
def test_a_wrong_master_key_is_found_at_start_up_and_on_use_naming_the_setting(tenant_a):
    patient = make_patient(tenant_a, "W-1")
    assert checks.problems() == []
    checks.verify_at_startup()
    with override_settings(FIELD_ENCRYPTION_KEYS=[_key()]):
        keyring.store().forget()
        found = checks.problems()
        assert len(found) == 1 and "FIELD_ENCRYPTION_KEYS holds no master key with id" in found[0]
        assert f"wrapped 2 stored key(s) of organization(s) {tenant_a.organization.pk} " in found[0]
        with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
            checks.verify_at_startup()
        with scopes_disabled(), pytest.raises(keyring.MasterKeyMismatch, match="FIELD_ENCRYPTION_KEYS"):
            Patient.objects.get(pk=patient.pk).mrn  # noqa: B018
    keyring.store().forget()


@pytest.mark.django_db
def test_an_altered_wrapped_key_is_refused_naming_the_key(tenant_a):
    make_patient(tenant_a, "W-2")
    row = OrganizationKey.all_organizations.filter(organization=tenant_a.organization, purpose="data").get()
    wrapped = bytearray(row.wrapped)
    wrapped[-1] ^= 1
    OrganizationKey.all_organizations.filter(pk=row.pk).update(wrapped=bytes(wrapped))
    keyring.store().forget()
    assert any(f"does not open organization {tenant_a.organization.pk}'s data key" in p for p in checks.problems())
    keyring.store().forget()


def test_a_master_key_is_known_by_an_id_that_does_not_reveal_it():
    raw = secrets.token_bytes(32)
    with override_settings(FIELD_ENCRYPTION_KEYS=[base64.b64encode(raw).decode(), _key()]):
        primary = masterkeys.primary()
        assert primary.key == raw and primary.id == masterkeys.key_id(raw)
        assert raw.hex()[:16] != primary.id and "key=" not in repr(primary)
    with override_settings(FIELD_ENCRYPTION_KEYS=[base64.b64encode(raw).decode()] * 2):
        with pytest.raises(ImproperlyConfigured, match="lists the same key twice"):
            masterkeys.master_keys()
