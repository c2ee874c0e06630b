"""The same round trip on the embedded default: SQLite and files on the local disk, in subprocesses with no
environment but a var directory of their own (as ``make demo`` runs), restored into a second, empty one."""

import hashlib
import os
import sqlite3
from pathlib import Path

from django.test import override_settings
from pyrage import x25519

from medilens.backup import keys, verify

from .conftest import manage

# What a restore itself appends: its two audit events, each queued for the sealer.
RESTORE_ADDS = {"audit_auditevent": 2, "audit_pendingseal": 2}

SEED = """
from datetime import date
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from accounts.models import Organization
from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services
from assessments.models import AIExplanation
from medilens import storage
from medilens.testing.factories import make_member

organization = Organization.objects.create(name="Embedded Clinic", slug="embedded")
admin = make_member(organization, Role.ORG_ADMIN, email="admin@embedded.example.org")
pdf = (b"%PDF-1.4\\n1 0 obj\\n<< /Type /Catalog /Pages 2 0 R >>\\nendobj\\n2 0 obj\\n<< /Type /Pages /Kids [] "
       b"/Count 0 >>\\nendobj\\ntrailer\\n<< /Root 1 0 R >>\\n%%EOF\\n")
with organization_scope(organization):
    patient = services.create_patient(actor=admin, organization=organization, consent=True, mrn="EMB-1",
        given_name="Ada", family_name="Embedded", date_of_birth=date(1950, 5, 5), sex_at_birth="female")
    assessment = services.create_assessment(actor=admin, organization=organization, patient=patient,
        modality="cvd_risk", inputs={"age": 70, "sex": "female", "race": "white", "total_cholesterol": 213,
        "hdl_cholesterol": 50, "cholesterol_unit": "mg/dL", "systolic_bp": 120, "bp_treated": False,
        "diabetic": False, "smoker": False},
        attachments=[SimpleUploadedFile("letter.pdf", pdf, content_type="application/pdf")])
    key = storage.object_key(organization.pk, assessment.pk, "png")
    storage.store(key, ContentFile(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(range(256)) * 4000))
    AIExplanation.objects.create(organization=organization, assessment=assessment, summary="s", image_key=key)
"""


READ_PATIENT = (
    "from accounts.tenancy import scopes_disabled\nfrom assessments.models import Patient\n"
    "with scopes_disabled():\n    patient = Patient.objects.get()\nprint(patient.mrn, patient.family_name)"
)


def embedded_env(var_dir: Path, key: str) -> dict:
    """No DATABASE_URL, no bucket, no Redis: the embedded default, in a var directory of its own."""
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "AWS_", "REDIS_", "CELERY_", "CACHE_")) and name != "SECRET_KEY"
    }
    env.update({"DJANGO_SETTINGS_MODULE": "medilens.settings", "MEDILENS_VAR_DIR": str(var_dir),
                "BACKUP_ENCRYPTION_KEY": key, "PYTHONUNBUFFERED": "1"})
    return env


def run(*args, env) -> str:
    result = manage(*args, env=env, inherit=False)
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout


def test_round_trip_on_sqlite_and_local_files(tmp_path):
    key = str(x25519.Identity.generate())
    source, target, archives = tmp_path / "source", tmp_path / "target", tmp_path / "archives"
    archives.mkdir()
    source_env = embedded_env(source, key)
    run("migrate", "--noinput", "-v", "0", env=source_env)
    run("shell", "-c", SEED, env=source_env)
    run("backup", str(archives), env=source_env)
    archive = next(archives.glob("*.tar.age"))
    with override_settings(BACKUP_ENCRYPTION_KEY=key):
        manifest = verify.verify(archive, keys.identity()).manifest
    assert manifest["database"]["vendor"] == "sqlite" and manifest["storage"] == "filesystem"
    assert manifest["object_count"] == 2

    target_env = embedded_env(target, key)
    out = run("restore", str(archive), env=target_env)

    assert "2 objects written and checked" in out
    connection = sqlite3.connect(target / "medilens.sqlite3")
    try:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        counts = {table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}  # noqa: S608
        (sealed,) = connection.execute("SELECT family_name FROM assessments_patient").fetchone()
        assert "Embedded" not in sealed  # ciphertext at rest, restored as such
    finally:
        connection.close()
    for table, expected in manifest["database"]["row_counts"].items():
        assert counts[table] == expected + RESTORE_ADDS.get(table, 0), table
    # The same master key (FIELD_ENCRYPTION_KEYS, kept apart from backups) opens the restored data.
    assert run("shell", "--no-imports", "-c", READ_PATIENT, env=target_env).split() == ["EMB-1", "Embedded"]
    media = target / "media"
    stored = {
        str(path.relative_to(media)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)
        for path in media.rglob("*") if path.is_file()
    }
    # Besides the archive's objects: the signed checkpoint the restore wrote about itself.
    records = {key for key in stored if key.startswith("audit-checkpoints/")}
    assert len(records) == 1 and "-restore-" in next(iter(records))
    stored = {key: value for key, value in stored.items() if key not in records}
    assert stored == {item["key"]: (item["sha256"], item["size"]) for item in manifest["objects"]}
    assert "ok organization embedded" in run("verify_audit_chain", env=target_env)
    refused = manage("restore", str(archive), env=target_env, inherit=False)
    assert refused.returncode == 1 and "already has" in refused.stderr

