"""A database restore loses the events written after the backup. With the signed "restored" checkpoint
(``write_restore_checkpoint``, or ``manage.py audit_restore_checkpoint``, which issue 12's restore calls)
the verifier reports the lost window as a restore; without it, the same loss is tampering. Runs on
PostgreSQL here and on SQLite through test_sqlite.py."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import audit
from audit import checkpoints
from audit.models import AuditEvent

from .support import remove_events, seal_now, seals, verify

BACKUP_TAKEN_AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def restored(tenant_a, tenant_b):
    """Ten events of clinic-a and two of clinic-b sealed and checkpointed; then the database goes back to a
    backup that held only the first six of clinic-a's (the newest four are gone, as a restore loses them)."""
    for step in range(10):
        audit.record(action=f"test.a{step}", organization=tenant_a.organization)
    for step in range(2):
        audit.record(action=f"test.b{step}", organization=tenant_b.organization)
    seal_now()
    remove_events([seal.event for seal in seals(tenant_a.organization)[6:]])
    return tenant_a, tenant_b


def test_the_same_loss_without_a_restore_checkpoint_is_tampering(restored):
    outcome = verify()
    assert outcome.code == 2
    assert "the newest 4 event(s) were removed" in outcome.line("organization clinic-a")


def test_a_restore_checkpoint_turns_the_loss_into_a_reported_restore(restored):
    checkpoint = checkpoints.write_restore_checkpoint(backup_taken_at=BACKUP_TAKEN_AT, note="nightly backup")
    restore = checkpoint.payload["restores"][-1]
    assert checkpoint.payload["kind"] == "restore"
    assert restore["backup_taken_at"] == "2026-12-01T03:00:00.000000+00:00"
    [lost] = restore["lost"]
    assert (lost["slug"], lost["checkpointed_sequence"], lost["restored_sequence"]) == ("clinic-a", 10, 6)

    outcome = verify()
    assert outcome.code == 0, outcome.err
    assert outcome.ok("organization clinic-a") == "ok organization clinic-a: 6 events"
    assert outcome.ok("organization clinic-b") == "ok organization clinic-b: 2 events"
    [line] = [line for line in outcome.out if line.startswith("RESTORED ")]
    assert line.startswith("RESTORED organization clinic-a: the database was restored at ")
    assert "to a backup of 2026-12-01T03:00:00.000000+00:00; the chain was restored to sequence 6 and events " \
           "up to #10" in line
    assert line.endswith("were lost in the restore")
    # The restore is itself in the audit trail.
    event = AuditEvent.objects.get(action="audit.database_restored")
    assert event.organization_id is None and event.actor_label == "system:restore"
    assert event.details == {"checkpoint": checkpoint.name, "backup_taken_at": restore["backup_taken_at"],
                             "chains_with_lost_events": 1}


def test_sealing_and_checkpoints_go_on_after_a_restore_and_keep_reporting_it(restored):
    tenant_a, _ = restored
    checkpoints.write_restore_checkpoint(backup_taken_at=BACKUP_TAKEN_AT)
    for step in range(3):
        audit.record(action=f"test.after{step}", organization=tenant_a.organization)
    checkpoint = seal_now()
    assert checkpoint is not None and checkpoint.payload["kind"] == "seal"
    assert [seal.sequence for seal in seals(tenant_a.organization)] == list(range(1, 10))
    outcome = verify()
    assert outcome.code == 0, outcome.err
    assert outcome.ok("organization clinic-a") == "ok organization clinic-a: 9 events"
    assert len([line for line in outcome.out if line.startswith("RESTORED organization clinic-a: ")]) == 1


def test_a_loss_after_the_restore_is_tampering_again(restored):
    tenant_a, _ = restored
    checkpoints.write_restore_checkpoint(backup_taken_at=BACKUP_TAKEN_AT)
    remove_events([seals(tenant_a.organization)[-1].event])
    outcome = verify()
    assert outcome.code == 2
    assert "the newest 1 event(s) were removed" in outcome.line("organization clinic-a")


def test_the_restore_command(restored):
    from io import StringIO

    out = StringIO()
    call_command("audit_restore_checkpoint", "--backup-taken-at", "2026-12-01T03:00Z", "--note", "drill", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("restore checkpoint ")
    assert lines[1].startswith("organization clinic-a: restored to sequence 6; the checkpoint of ")
    assert lines[1].endswith(" held sequence 10")
    assert verify().code == 0


@pytest.mark.parametrize("value", ["yesterday", "2026-12-01T03:00"])
def test_the_restore_command_refuses_a_time_it_cannot_place(restored, value):
    with pytest.raises(CommandError, match="ISO-8601 time with its offset"):
        call_command("audit_restore_checkpoint", "--backup-taken-at", value)
    assert not AuditEvent.objects.filter(action="audit.database_restored").exists()


def test_the_restore_command_needs_the_key(restored, settings):
    settings.AUDIT_HMAC_KEY = []
    with pytest.raises(CommandError, match="AUDIT_HMAC_KEY is not set") as excinfo:
        call_command("audit_restore_checkpoint")
    assert excinfo.value.returncode == 3
    assert verify().code == 3
