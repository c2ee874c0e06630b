"""Checkpoints in the object store: what they hold, that they are only ever added, the Object Lock headers
sent only when the setting asks, a bucket of their own, and what verification says when a checkpoint is
forged, missing, or the storage cannot be read. (The tamper tests compare chains with checkpoints.)"""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

import audit
from audit import checkpoints, jobs, keys, sealing
from audit.tests.support import remove_events, seal_now, seals, verify


@pytest.fixture
def sealed(tenant_a, tenant_b):
    for step in range(4):
        audit.record(action=f"test.a{step}", organization=tenant_a.organization)
    audit.record(action="test.b", organization=tenant_b.organization)
    return seal_now()


def stored_names(s3_server, bucket, prefix) -> list[str]:
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_a_checkpoint_holds_every_chains_head_under_the_key(sealed, tenant_a, tenant_b, s3_server, s3_bucket, settings):
    names = stored_names(s3_server, s3_bucket, settings.AUDIT_CHECKPOINT_PREFIX)
    assert names == [sealed.name]
    written = datetime.fromisoformat(sealed.written_at).astimezone(UTC)
    assert sealed.name.startswith(f"{settings.AUDIT_CHECKPOINT_PREFIX}/{written:%Y/%m/%d/%H}/{written:%Y%m%dT%H%M%S}")
    body = json.loads(s3_server.client().get_object(Bucket=s3_bucket, Key=sealed.name)["Body"].read())
    assert body["format"] == "medilens-audit-checkpoint/1" and body["kind"] == "seal"
    assert body["key_id"] == keys.signing_key().key_id
    heads = {entry["slug"]: entry for entry in body["chains"]}
    a_head = seals(tenant_a.organization)[-1]
    assert heads["clinic-a"] == {"organization": tenant_a.organization.pk, "slug": "clinic-a", "sequence": 4,
                                 "mac": a_head.mac, "count": 4}
    assert heads["clinic-b"]["sequence"] == 1
    assert checkpoints.check_signature(body, keys.by_id()) is None
    body["chains"][0]["sequence"] += 1
    assert "signature does not match" in checkpoints.check_signature(body, keys.by_id())


def test_checkpoints_are_added_never_replaced(sealed, tenant_a, s3_server, s3_bucket, settings):
    audit.record(action="test.more", organization=tenant_a.organization)
    second = seal_now()
    heartbeat = jobs.heartbeat()
    names = stored_names(s3_server, s3_bucket, settings.AUDIT_CHECKPOINT_PREFIX)
    assert names == sorted([sealed.name, second.name, heartbeat.name])
    assert second.payload["previous"] == {"name": sealed.name, "mac": sealed.payload["mac"]}
    assert checkpoints.read_latest().checkpoint.name == heartbeat.name


def test_nothing_sealed_writes_no_seal_checkpoint(sealed, s3_server, s3_bucket, settings):
    assert seal_now() is None
    assert stored_names(s3_server, s3_bucket, settings.AUDIT_CHECKPOINT_PREFIX) == [sealed.name]


def test_the_orphan_sweep_leaves_checkpoints_alone(sealed, s3_server, s3_bucket, settings):
    from assessments.sweep import sweep_orphans

    sweep_orphans(grace_seconds=-60)  # everything unreferenced under its prefix, however young
    assert stored_names(s3_server, s3_bucket, settings.AUDIT_CHECKPOINT_PREFIX) == [sealed.name]


# --- Object Lock ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def locked_bucket(s3_server):
    name = "audit-checkpoints-locked"
    s3_server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def checkpoints_in(s3_storage, settings):
    """Point checkpoints at a bucket of their own (the setting README describes for production)."""

    def point(bucket: str):
        settings.STORAGES = {
            **settings.STORAGES,
            "audit_checkpoints": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {**s3_storage, "bucket_name": bucket},
            },
        }
        settings.AUDIT_CHECKPOINT_STORAGE = "audit_checkpoints"

    return point


def test_object_lock_headers_are_sent_when_the_setting_asks(tenant_a, s3_server, locked_bucket, checkpoints_in,
                                                             settings):
    checkpoints_in(locked_bucket)
    settings.AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = 7
    audit.record(action="test.locked", organization=tenant_a.organization)
    checkpoint = seal_now()
    retention = s3_server.client().get_object_retention(Bucket=locked_bucket, Key=checkpoint.name)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    until = retention["RetainUntilDate"]
    assert timedelta(days=6, hours=23) < until - datetime.now(UTC) <= timedelta(days=7)
    assert verify().code == 0


def test_no_object_lock_headers_without_the_setting(tenant_a, s3_server, locked_bucket, checkpoints_in):
    from botocore.exceptions import ClientError

    checkpoints_in(locked_bucket)
    audit.record(action="test.unlocked", organization=tenant_a.organization)
    checkpoint = seal_now()
    with pytest.raises(ClientError):
        s3_server.client().get_object_retention(Bucket=locked_bucket, Key=checkpoint.name)


def test_lock_headers_on_a_bucket_without_object_lock_fail_loudly(tenant_a, s3_bucket, checkpoints_in, settings):
    """The store refuses them (as AWS does); sealing still happened, the checkpoint is reported missing."""
    checkpoints_in(s3_bucket)
    settings.AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = 7
    audit.record(action="test.refused", organization=tenant_a.organization)
    with pytest.raises(checkpoints.CheckpointUnavailable, match="could not write checkpoint"):
        seal_now()
    outcome = verify()
    assert outcome.code == 3
    assert any("no checkpoint under" in line for line in outcome.not_checked)


# --- what verification says about checkpoints ------------------------------------------------------------------
def forge_newer(s3_server, bucket, checkpoint, change) -> str:
    """Someone with write access to the bucket but not the key adds a 'newer' checkpoint."""
    payload = json.loads(json.dumps(checkpoint.payload))
    change(payload)
    name = checkpoint.name.replace(checkpoint.name.rsplit("/", 1)[1], "99999999T999999999999Z-seal-forged.json")
    s3_server.client().put_object(Bucket=bucket, Key=name, Body=json.dumps(payload).encode())
    return name


def test_a_forged_newer_checkpoint_is_named_and_the_valid_one_still_used(sealed, tenant_a, s3_server, s3_bucket):
    remove_events([seal.event for seal in seals(tenant_a.organization)[-2:]])

    def hide_truncation(payload):
        for entry in payload["chains"]:
            if entry["slug"] == "clinic-a":
                entry["sequence"] = entry["count"] = 2
                entry["mac"] = seals(tenant_a.organization)[-1].mac

    forged = forge_newer(s3_server, s3_bucket, sealed, hide_truncation)
    outcome = verify("--no-seal")
    assert outcome.code == 2
    assert f"BROKEN checkpoint {forged}: its signature does not match (the object was forged or edited)" in outcome.err
    assert "the newest 2 event(s) were removed" in outcome.line("organization clinic-a")


def test_a_checkpoint_under_another_key_is_not_checked(sealed, s3_server, s3_bucket, settings):
    other = keys.Key(keys.key_id_of(b"x" * 40), b"x" * 40)

    def resign(payload):
        payload["key_id"] = other.key_id
        payload["mac"] = other.mac(checkpoints._signed_part(payload))

    forge_newer(s3_server, s3_bucket, sealed, resign)
    outcome = verify("--no-seal")
    assert outcome.code == 3
    assert any("which AUDIT_HMAC_KEY does not hold" in line for line in outcome.not_checked)


def test_no_checkpoint_at_all_is_not_checked_never_ok(tenant_a):
    audit.record(action="test.unchecked", organization=tenant_a.organization)
    sealing.seal_pending()  # sealed, but the checkpoint that beat writes after it is missing
    outcome = verify("--no-seal")
    assert outcome.code == 3
    assert any("no checkpoint under" in line for line in outcome.not_checked)


def test_a_chain_no_checkpoint_holds_is_not_called_ok(sealed):
    from medilens.testing.factories import OrganizationFactory

    newcomer = OrganizationFactory(slug="new-clinic")
    audit.record(action="test.new", organization=newcomer)
    sealing.seal_pending()  # sealed; the checkpoint that beat writes after it is missing
    outcome = verify("--no-seal")
    assert outcome.code == 3
    assert outcome.line("organization new-clinic") == (
        "NOT CHECKED organization new-clinic: its 1 events verify as a chain, but no checkpoint holds it: the "
        "removal of its newest events could not be checked"
    )
    assert outcome.ok("organization clinic-a") == "ok organization clinic-a: 4 events"


def test_unreadable_checkpoint_storage_is_not_checked(sealed, settings, s3_storage):
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_checkpoints": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**s3_storage, "bucket_name": "no-such-bucket-here"},
        },
    }
    settings.AUDIT_CHECKPOINT_STORAGE = "audit_checkpoints"
    outcome = verify()
    assert outcome.code == 3
    assert any("checkpoint storage could not be read" in line for line in outcome.not_checked)


def test_a_refused_checkpoint_is_logged_without_event_content(sealed, tenant_a, caplog):
    remove_events([seals(tenant_a.organization)[-1].event])
    with caplog.at_level(logging.ERROR, logger="audit.jobs"):
        assert jobs.heartbeat() is None
    [record] = [r for r in caplog.records if r.name == "audit.jobs"]
    assert "audit checkpoint refused" in record.getMessage()
    assert f"no longer holds sequence 4 as checkpoint {sealed.name} recorded it" in record.getMessage()
    assert "test.a" not in record.getMessage()


# --- the schedule --------------------------------------------------------------------------------------------
def test_beat_seals_at_most_ten_seconds_apart_and_checkpoints_every_minute(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["seal-audit-events"]["task"] == "audit.tasks.seal_audit_events"
    assert 0 < schedule["seal-audit-events"]["schedule"] <= 10
    assert schedule["write-audit-checkpoint"] == {
        "task": "audit.tasks.write_audit_checkpoint", "schedule": 60.0, "options": {"expires": 60}
    }


def test_the_tasks_seal_and_checkpoint(tenant_a, settings, caplog):
    from audit import tasks

    audit.record(action="test.task", organization=tenant_a.organization)
    assert tasks.seal_audit_events() == 1
    tasks.write_audit_checkpoint()
    assert checkpoints.read_latest().checkpoint.payload["kind"] == "heartbeat"
    settings.AUDIT_HMAC_KEY = []
    audit.record(action="test.task", organization=tenant_a.organization)
    with caplog.at_level(logging.ERROR, logger="audit.tasks"):
        assert tasks.seal_audit_events() == 0
    assert "audit events are not being sealed: AUDIT_HMAC_KEY is not set" in caplog.text


def test_keys_parse_a_comma_separated_setting(settings):
    settings.AUDIT_HMAC_KEY = "first-key-" + "a" * 30 + ", second-key-" + "b" * 30
    configured = keys.configured()
    assert [key.key_id for key in configured] == [keys.key_id_of(b"first-key-" + b"a" * 30),
                                                  keys.key_id_of(b"second-key-" + b"b" * 30)]
    assert "secret" not in repr(configured[0]) and "aaaa" not in repr(configured[0])
