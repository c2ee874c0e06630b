"""Backup and restore, verified: the test database (PostgreSQL) and an S3 bucket are backed up, restored
into a fresh database and a fresh bucket by ``manage.py restore`` run as an operator would, and the result
is compared with the manifest (row counts per table, SHA-256 of every object); the audit chains verify."""

import hashlib
import io

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from medilens.backup import keys, verify
from retention.tests.helpers import PHI, full_patient

from .conftest import manage, target_env

READ_PATIENT = (
    "from accounts.tenancy import scopes_disabled\nfrom assessments.models import Patient\n"
    "with scopes_disabled():\n    patient = Patient.objects.get()\nprint(patient.mrn, patient.family_name)"
)
# What a restore itself appends: its two audit events, each queued for the sealer.
RESTORE_ADDS = {"audit_auditevent": 2, "audit_pendingseal": 2}

pytestmark = pytest.mark.django_db(transaction=True)


def backup(directory) -> tuple:
    out = io.StringIO()
    call_command("backup", str(directory), stdout=out)
    path = next(directory.glob("*.tar.age"))
    return path, verify.verify(path, keys.identity()).manifest


def row_counts(database: str) -> dict[str, int]:
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=database, autocommit=True) as target:
        tables = target.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
        count = sql.SQL("SELECT COUNT(*) FROM {}")
        return {table: target.execute(count.format(sql.Identifier(table))).fetchone()[0] for (table,) in tables}


RESTORE_RECORDS = "audit-checkpoints/"  # what a restore writes about itself (its signed audit checkpoint)


def bucket_checksums(s3_server, bucket: str, *, records: bool = False) -> dict[str, tuple[str, int]]:
    """The bucket's objects and their checksums; the restore's own audit checkpoints only if ``records``."""
    client = s3_server.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].startswith(RESTORE_RECORDS) and not records:
                continue
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"]] = (hashlib.sha256(body).hexdigest(), len(body))
    return found


def test_round_trip_on_postgresql_and_s3(tenant_a, source_storage, backup_key, fresh_database, fresh_bucket,
                                         s3_server, tmp_path):
    owned = full_patient(tenant_a, **PHI)
    archive, manifest = backup(tmp_path)
    assert manifest["database"]["vendor"] == "postgresql"
    assert {item["key"] for item in manifest["objects"]} == set(owned.keys)
    assert manifest["database"]["row_counts"]["assessments_patient"] == 1
    assert manifest["audit_heads"][str(tenant_a.organization.pk)]["sequence"] > 0
    env = target_env(s3_server, database=fresh_database, bucket=fresh_bucket, key=backup_key)

    # A bucket that is not empty is refused, and nothing is written to the database either.
    s3_server.client().put_object(Bucket=fresh_bucket, Key="org/9/stray.bin", Body=b"stray")
    refused = manage("restore", str(archive), env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the storage already holds objects (e.g. org/9/stray.bin)" in refused.stderr
    assert row_counts(fresh_database) == {}
    s3_server.client().delete_object(Bucket=fresh_bucket, Key="org/9/stray.bin")

    restored = manage("restore", str(archive), env=env)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    counts = row_counts(fresh_database)
    for table, expected in manifest["database"]["row_counts"].items():
        # The restore appends its own two platform events after the check ("audit.database_restored" with
        # the restore checkpoint, then "backup.restored"), queued for sealing; nothing else changes.
        assert counts[table] == expected + RESTORE_ADDS.get(table, 0), table
    objects = {item["key"]: (item["sha256"], item["size"]) for item in manifest["objects"]}
    assert bucket_checksums(s3_server, fresh_bucket) == objects
    restore_checkpoints = set(bucket_checksums(s3_server, fresh_bucket, records=True)) - set(objects)
    assert len(restore_checkpoints) == 1 and "-restore-" in restore_checkpoints.pop()
    # The sealed PHI comes back byte for byte (still ciphertext at rest), and opens with the same master key.
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=fresh_database) as target:
        row = target.execute("SELECT mrn, family_name FROM assessments_patient").fetchone()
    with connection.cursor() as source:
        source.execute("SELECT mrn, family_name FROM assessments_patient")
        assert row == source.fetchone() and PHI["mrn"] not in str(row)
    opened = manage("shell", "--no-imports", "-c", READ_PATIENT, env=env)
    assert opened.stdout.split() == [PHI["mrn"], PHI["family_name"]], opened.stdout + opened.stderr
    chain = manage("verify_audit_chain", env=env)
    assert chain.returncode == 0, chain.stdout + chain.stderr
    assert "ok organization clinic-a" in chain.stdout and "ok platform" in chain.stdout

    # A restore into a database with tables is refused (test_bad_input); --force replaces the database's
    # contents (in one transaction) and writes the archive's objects over the bucket.
    s3_server.client().put_object(Bucket=fresh_bucket, Key=owned.keys[0], Body=b"overwritten")
    forced = manage("restore", "--force", str(archive), env=env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    counts_after = row_counts(fresh_database)
    assert counts_after["assessments_patient"] == 1
    assert counts_after["audit_auditevent"] == manifest["database"]["row_counts"]["audit_auditevent"] + 2
    assert bucket_checksums(s3_server, fresh_bucket) == objects


def test_verify_backup_reads_the_whole_archive(tenant_a, source_storage, backup_key, tmp_path):
    full_patient(tenant_a)
    archive, manifest = backup(tmp_path)
    out = io.StringIO()
    call_command("verify_backup", str(archive), stdout=out)
    assert f"{manifest['object_count']} objects; every checksum matches" in out.getvalue()
    assert manifest["object_count"] == 2


def test_the_dump_leaves_session_rows_out(tenant_a, source_storage, backup_key, tmp_path):
    client = tenant_a.client_for("org_admin")
    client.get("/")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_session")
        assert cursor.fetchone()[0] >= 1  # the control: there is a live session to leave out
    _archive, manifest = backup(tmp_path)
    assert manifest["database"]["row_counts"]["django_session"] == 0
    assert manifest["database"]["excluded_data"] == ["django_session"]
