"""Events written before sealing began (plain SHA-256 chain, sequence 1..N per chain) still verify up to the
cut-over the data migration records, and the keyed chain continues from the legacy head. Runs on
PostgreSQL here and on SQLite through test_sqlite.py."""

import hashlib
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

import audit
from audit import jobs
from audit.models import AuditEvent, ChainCutover, PendingSeal
from audit.sealing import GENESIS

from .support import remove_events, seal_now, seals, tamper, verify

record_cutover = importlib.import_module("audit.migrations.0004_legacy_cutover").record_cutover

LEGACY_A = 6
LEGACY_PLATFORM = 2


def write_legacy_chain(organization, count: int, actor) -> list[AuditEvent]:
    """Events exactly as ``record`` wrote them before the change: per-chain sequence from 1, each hash
    over the content and the previous hash. They were never queued for sealing (the queue came later)."""
    previous, written = GENESIS, []
    for sequence in range(1, count + 1):
        event = AuditEvent(
            occurred_at=timezone.now(), organization=organization, sequence=sequence,
            actor_type="user" if actor else "system", actor_user=actor, actor_label=actor.email if actor else "system",
            action=f"legacy.step{sequence}", details={"step": sequence}, legacy_previous_hash=previous,
        )
        event.legacy_hash = event.compute_hash()
        event.save()
        previous = event.legacy_hash
        written.append(event)
    PendingSeal.objects.filter(event_id__in=[event.pk for event in written]).delete()
    return written


@pytest.fixture
def legacy(tenant_a):
    organization = tenant_a.organization
    events = write_legacy_chain(organization, LEGACY_A, tenant_a.users["org_admin"])
    platform = write_legacy_chain(None, LEGACY_PLATFORM, None)
    record_cutover(apps, None)  # what migration 0004 does
    jobs.heartbeat()  # what beat does within a minute of the upgrade
    return tenant_a, events, platform


def test_the_migration_records_each_chains_cutover(legacy):
    tenant_a, events, platform = legacy
    cutovers = {c.organization_id: (c.sequence, c.hash) for c in ChainCutover.objects.all()}
    assert cutovers == {
        tenant_a.organization.pk: (LEGACY_A, events[-1].hash),
        None: (LEGACY_PLATFORM, platform[-1].hash),
    }


def test_the_legacy_segment_verifies_and_the_keyed_chain_continues_from_it(legacy):
    tenant_a, events, _ = legacy
    for step in range(3):
        audit.record(action=f"test.after{step}", organization=tenant_a.organization)
    outcome = verify()
    assert outcome.code == 0, outcome.err
    assert outcome.ok("organization clinic-a") == f"ok organization clinic-a: {LEGACY_A + 3} events"
    assert outcome.ok("platform") == f"ok platform: {LEGACY_PLATFORM} events"
    first = seals(tenant_a.organization)[0]
    assert (first.sequence, first.previous_mac) == (LEGACY_A + 1, events[-1].hash)
    # The legacy hashes are what they were: plain SHA-256 of the old canonical form.
    assert all(event.hash == hashlib.sha256(event.canonical()).hexdigest() for event in events)


def test_a_legacy_only_chain_verifies_and_is_checkpointed(legacy):
    checkpoint = jobs.heartbeat()
    entry = checkpoint.chains()[legacy[0].organization.pk]
    assert (entry["sequence"], entry["mac"]) == (LEGACY_A, legacy[1][-1].hash)
    assert verify().code == 0


def test_an_edited_legacy_event_is_named(legacy):
    _, events, _ = legacy
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["legacy.innocent", events[2].pk])
    outcome = verify()
    assert outcome.code == 2
    assert outcome.broken == [
        f"BROKEN organization clinic-a: legacy event id={events[2].pk} sequence=3 action=legacy.innocent: "
        "content does not match its hash (row was changed)"
    ]
    assert outcome.ok("platform")


def _recompute_legacy_without(events, removed: int) -> str:
    """Remove one legacy event and rebuild the plain SHA-256 chain after it, as anyone can (no key)."""
    remove_events([events[removed]])
    previous = events[removed - 1].hash
    for event in events[removed + 1:]:
        event.sequence -= 1
        event.legacy_previous_hash = previous
        event.legacy_hash = event.compute_hash()
        tamper("UPDATE audit_auditevent SET sequence = %s, previous_hash = %s, hash = %s WHERE id = %s",
               [event.sequence, event.legacy_previous_hash, event.legacy_hash, event.pk])
        previous = event.legacy_hash
    return previous


def test_a_legacy_segment_rebuilt_without_the_key_is_named(legacy):
    tenant_a, events, _ = legacy
    audit.record(action="test.after", organization=tenant_a.organization)
    seal_now()
    _recompute_legacy_without(events, 2)
    outcome = verify()
    assert outcome.code == 2
    [line] = outcome.broken
    assert line.startswith("BROKEN organization clinic-a: the legacy segment ends at sequence 5 but the cut-over ")


def test_a_legacy_rebuild_with_its_cutover_rewritten_too_is_named(legacy):
    tenant_a, events, _ = legacy
    audit.record(action="test.after", organization=tenant_a.organization)
    seal_now()
    head = _recompute_legacy_without(events, 2)
    tamper("UPDATE audit_chaincutover SET sequence = %s, hash = %s WHERE organization_id = %s",
           [LEGACY_A - 1, head, tenant_a.organization.pk])
    outcome = verify()
    assert outcome.code == 2
    [line] = outcome.broken
    assert "expected seal #6" in line or "previous-MAC link broken" in line, line


def test_the_newest_legacy_events_removed_are_caught_by_the_checkpoint(legacy):
    tenant_a, events, _ = legacy
    remove_events(events[-2:])
    tamper("UPDATE audit_chaincutover SET sequence = %s, hash = %s WHERE organization_id = %s",
           [LEGACY_A - 2, events[-3].hash, tenant_a.organization.pk])
    outcome = verify()
    assert outcome.code == 2
    [line] = outcome.broken
    assert "the newest 2 event(s) were removed" in line, line
