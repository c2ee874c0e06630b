"""A restore never brings a purged patient back: the purge ledger (kept beside the audit checkpoints, outside
the database) names every purged patient, and a restore of an older archive purges them again."""

import io

import psycopg
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from retention.tests.helpers import PHI, age, full_patient

from .conftest import manage, target_env
from .test_round_trip import backup, bucket_checksums

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_restore_of_an_older_archive_does_not_bring_back_a_purged_patient(
    tenant_a, source_storage, backup_key, fresh_database, fresh_bucket, s3_server, tmp_path
):
    purged = full_patient(tenant_a, **PHI)
    kept = full_patient(tenant_a)
    archive, manifest = backup(tmp_path)  # both patients are in the archive
    assert set(purged.keys) <= {item["key"] for item in manifest["objects"]}
    age(purged.patient, days=3000)
    call_command("purge_expired", stdout=io.StringIO())
    assert not any(default_storage.exists(key) for key in purged.keys)

    # The operator restores yesterday's archive on a new machine; the ledger is where the live system kept it.
    env = target_env(s3_server, database=fresh_database, bucket=fresh_bucket, key=backup_key,
                     ledger_bucket=source_storage)
    restored = manage("restore", str(archive), env=env)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "purge ledger: 1 purged patient(s) purged again" in restored.stdout
    assert str(purged.patient.pk) in restored.stdout
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=fresh_database) as target:
        patients = {row[0] for row in target.execute("SELECT id::text FROM assessments_patient")}
        assessments = target.execute(
            "SELECT COUNT(*) FROM assessments_assessment WHERE patient_id = %s", [purged.patient.pk]
        ).fetchone()[0]
        actions = [row[0] for row in target.execute("SELECT action FROM audit_auditevent ORDER BY id")]
    assert patients == {str(kept.patient.pk)}
    assert assessments == 0
    assert actions[-2:] == ["backup.restored", "patient.purged"]
    stored = bucket_checksums(s3_server, fresh_bucket)
    assert not set(purged.keys) & set(stored), "the purged patient's files came back"
    assert set(kept.keys) <= set(stored)
    chain = manage("verify_audit_chain", env=env)
    assert chain.returncode == 0, chain.stdout + chain.stderr


def test_a_ledger_that_does_not_verify_stops_the_restore_before_any_change(
    tenant_a, source_storage, backup_key, fresh_database, fresh_bucket, s3_server, tmp_path
):
    full_patient(tenant_a)
    archive, _manifest = backup(tmp_path)
    s3_server.client().put_object(
        Bucket=source_storage, Key="ledger/purges/1/20260101T000000000000Z-forged.json",
        Body=b'{"entry": {"patient_id": "x"}, "signature": "00"}',
    )
    env = target_env(s3_server, database=fresh_database, bucket=fresh_bucket, key=backup_key,
                     ledger_bucket=source_storage)

    refused = manage("restore", str(archive), env=env)

    assert refused.returncode == 1
    assert "ledger entry ledger/purges/1/20260101T000000000000Z-forged.json" in refused.stderr
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=fresh_database) as target:
        assert target.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
    assert bucket_checksums(s3_server, fresh_bucket) == {}
