"""The real upgrade path (on PostgreSQL here, on SQLite through test_sqlite.py): events written by the old
code (schema at audit 0002: per-chain sequence, SHA-256 hash chain, no sealing queue) survive migrations
0003-0005, the cut-over is recorded, the triggers are in place, and the trail verifies with new events
sealed on top."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

import audit
from audit.models import AuditEvent, ChainCutover, PendingSeal
from audit.sealing import GENESIS
from medilens.testing.factories import OrganizationFactory

from .support import expected_triggers, seals, trigger_names, verify

BEFORE = [("audit", "0002_append_only_triggers")]


def latest() -> list:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]


def write_as_the_old_code(old_apps, organization_id, count: int) -> list[str]:
    """What record() wrote before: sequence 1..N, each hash over the content and the previous hash."""
    old_event = old_apps.get_model("audit", "AuditEvent")
    previous, hashes = GENESIS, []
    for sequence in range(1, count + 1):
        fields = dict(
            occurred_at=timezone.now(), organization_id=organization_id, sequence=sequence, actor_type="system",
            actor_label="system:old", action=f"legacy.step{sequence}", details={"step": sequence},
        )
        # The current model computes the legacy hash exactly as the old code did (same canonical form).
        digest = AuditEvent(**fields, legacy_previous_hash=previous).compute_hash()
        old_event.objects.create(**fields, previous_hash=previous, hash=digest)
        previous = digest
        hashes.append(digest)
    return hashes


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_audit_rows_removable")
def test_events_of_the_old_code_verify_after_the_upgrade():
    organization = OrganizationFactory(slug="upgraded-clinic")
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old_apps = executor.loader.project_state(BEFORE).apps
        clinic = write_as_the_old_code(old_apps, organization.pk, 4)
        platform = write_as_the_old_code(old_apps, None, 2)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest())
    assert expected_triggers() <= trigger_names()
    assert not PendingSeal.objects.exists()  # the old events were never queued: they are not resealed
    assert {(c.organization_id, c.sequence, c.hash) for c in ChainCutover.objects.all()} == {
        (organization.pk, 4, clinic[-1]), (None, 2, platform[-1])
    }

    audit.record(action="test.after_upgrade", organization=organization)
    outcome = verify()
    assert outcome.code == 0, outcome.err
    assert outcome.ok("organization upgraded-clinic") == "ok organization upgraded-clinic: 5 events"
    assert outcome.ok("platform") == "ok platform: 2 events"
    [first] = seals(organization)
    assert (first.sequence, first.previous_mac) == (5, clinic[-1])
    call_command("migrate", verbosity=0)  # nothing left to apply
