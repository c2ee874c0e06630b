"""The sealed chain and its checkpoints against each kind of tampering, with the append-only triggers out
of the way: an edited event, a sealed event removed mid-chain, two seals swapped, the newest events
removed, an organization's whole chain removed, and a chain rebuilt without the key. Each is reported
(exit 2, a BROKEN line naming the chain); the other chains still read "ok".

This module runs twice: here on PostgreSQL, and on SQLite (the embedded default) through
test_sqlite.py, which runs it in a subprocess with embedded settings.
"""

import hashlib
import os

import pytest
from django.db import connection

import audit
from audit import keys
from audit.models import AuditEvent, AuditSeal, PendingSeal, canonical_json
from audit.sealing import GENESIS, seal_message

from .support import (
    events_of,
    expected_triggers,
    remove_events,
    seal_now,
    seals,
    tamper,
    trigger_names,
    verify,
)

A_EVENTS = 30
B_EVENTS = 5
PLATFORM_EVENTS = 3


@pytest.fixture
def trail(tenant_a, tenant_b):
    """Thirty events of clinic-a, five of clinic-b, three platform events, interleaved; sealed, with a
    checkpoint written after the seal."""
    admin_a, admin_b = tenant_a.users["org_admin"], tenant_b.users["org_admin"]
    for step in range(1, A_EVENTS + 1):
        audit.record(action=f"test.a_step{step}", actor=admin_a, organization=tenant_a.organization,
                     details={"step": step})
        if step <= B_EVENTS:
            audit.record(action=f"test.b_step{step}", actor=admin_b, organization=tenant_b.organization)
        if step <= PLATFORM_EVENTS:
            audit.record(action=f"test.platform_step{step}", actor="system:test")
    checkpoint = seal_now()
    assert checkpoint is not None
    return tenant_a, tenant_b


def assert_only_clinic_a_broken(outcome, *fragments) -> str:
    assert outcome.code == 2, (outcome.out, outcome.err)
    assert len(outcome.broken) == 1, outcome.err
    line = outcome.broken[0]
    assert line.startswith("BROKEN organization clinic-a: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert outcome.ok("organization clinic-b") == f"ok organization clinic-b: {B_EVENTS} events"
    assert outcome.ok("platform") == f"ok platform: {PLATFORM_EVENTS} events"
    return line


# --- as written ------------------------------------------------------------------------------------------
def test_this_run_is_on_the_database_it_is_meant_for(db):
    """test_sqlite.py sets AUDIT_TESTS_VENDOR=sqlite for its run; this one is PostgreSQL's."""
    assert connection.vendor == os.environ.get("AUDIT_TESTS_VENDOR", "postgresql")


def test_the_triggers_are_in_place_after_migrating(db):
    assert expected_triggers() <= trigger_names()


@pytest.mark.parametrize("table", ["audit_auditevent", "audit_auditseal"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_triggers_refuse_changes(trail, table, statement):
    from django.db import DatabaseError, transaction

    before = AuditSeal.objects.count(), AuditEvent.objects.count()
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table=table))
    assert f"{table} is append-only" in str(excinfo.value)
    assert (AuditSeal.objects.count(), AuditEvent.objects.count()) == before


def test_each_chain_is_sealed_in_order_under_the_key(trail):
    tenant_a, tenant_b = trail
    key = keys.signing_key()
    for organization, count in ((tenant_a.organization, A_EVENTS), (tenant_b.organization, B_EVENTS),
                                (None, PLATFORM_EVENTS)):
        chain = seals(organization)
        assert [seal.sequence for seal in chain] == list(range(1, count + 1))
        assert [seal.event_id for seal in chain] == sorted(seal.event_id for seal in chain)
        previous = GENESIS
        for seal in chain:
            assert seal.previous_mac == previous and seal.key_id == key.key_id
            message = seal_message(seal.event, sequence=seal.sequence, previous_mac=previous, key_id=seal.key_id,
                                   sealed_at=seal.sealed_at)
            assert seal.mac == key.mac(message)
            previous = seal.mac
    assert not PendingSeal.objects.exists()


def test_an_intact_trail_verifies(trail):
    outcome = verify()
    assert outcome.code == 0 and outcome.err == []
    assert outcome.out[0].startswith("checkpoint ")
    assert outcome.out[1:] == [
        f"ok platform: {PLATFORM_EVENTS} events",
        f"ok organization clinic-a: {A_EVENTS} events",
        f"ok organization clinic-b: {B_EVENTS} events",
    ]


def test_verify_seals_what_is_queued_before_checking(trail):
    tenant_a, _ = trail
    audit.record(action="test.late", organization=tenant_a.organization)
    outcome = verify()
    assert outcome.code == 0
    assert outcome.ok("organization clinic-a") == f"ok organization clinic-a: {A_EVENTS + 1} events"
    assert not PendingSeal.objects.exists()


# --- an event edited -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "test.innocent"),
        ("actor_label", "someone-else@example.org"),
        ("outcome", "failure"),
        ("details", '{"step": 99}'),
        ("target_id", "42"),
        ("ip", "10.1.2.3"),
    ],
)
def test_an_edited_event_is_named(trail, column, value):
    tenant_a, _ = trail
    victim = seals(tenant_a.organization)[6]
    assert tamper(f"UPDATE audit_auditevent SET {column} = %s WHERE id = %s", [value, victim.event_id]) == 1  # noqa: S608
    assert_only_clinic_a_broken(
        verify(), f"seal #7 (event id={victim.event_id} ", "the event does not match its seal"
    )


def test_an_edited_time_is_named(trail):
    tenant_a, _ = trail
    victim = seals(tenant_a.organization)[2]
    from datetime import timedelta

    tamper("UPDATE audit_auditevent SET occurred_at = %s WHERE id = %s",
           [victim.event.occurred_at + timedelta(seconds=1), victim.event_id])
    assert_only_clinic_a_broken(verify(), "seal #3 ", "does not match its seal")


def test_an_edit_with_a_recomputed_seal_is_caught_without_the_key(trail):
    """The attacker edits an event and recomputes its seal; without the key the MAC cannot be right."""
    tenant_a, _ = trail
    victim = seals(tenant_a.organization)[9]
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.innocent", victim.event_id])
    victim.event.action = "test.innocent"
    forged = hashlib.sha256(seal_message(victim.event, sequence=10, previous_mac=victim.previous_mac,
                                         key_id=victim.key_id, sealed_at=victim.sealed_at)).hexdigest()
    tamper("UPDATE audit_auditseal SET mac = %s WHERE id = %s", [forged, victim.pk])
    assert_only_clinic_a_broken(verify(), "seal #10 ", "does not match its seal")


# --- an event removed mid-chain ----------------------------------------------------------------------------
@pytest.mark.parametrize("index", [0, 11])
def test_a_sealed_event_removed_mid_chain_is_named(trail, index):
    tenant_a, _ = trail
    chain = seals(tenant_a.organization)
    remove_events([chain[index].event])
    following = chain[index + 1]
    assert_only_clinic_a_broken(
        verify(), f"seal #{index + 2} (event id={following.event_id} ", f"expected seal #{index + 1}"
    )


# --- seals swapped ------------------------------------------------------------------------------------------
def test_two_swapped_seals_are_named(trail):
    tenant_a, _ = trail
    chain = seals(tenant_a.organization)
    third, fourth = chain[2], chain[3]
    # (organization, sequence) is unique, so the swap goes through a free number.
    tamper("UPDATE audit_auditseal SET sequence = 1000 WHERE id = %s", [third.pk])
    tamper("UPDATE audit_auditseal SET sequence = 3 WHERE id = %s", [fourth.pk])
    tamper("UPDATE audit_auditseal SET sequence = 4 WHERE id = %s", [third.pk])
    assert_only_clinic_a_broken(verify(), f"seal #3 (event id={fourth.event_id} ", "previous-MAC link broken")


# --- the newest events removed -------------------------------------------------------------------------------
def test_the_newest_events_removed_are_caught_by_the_checkpoint(trail):
    tenant_a, _ = trail
    chain = seals(tenant_a.organization)
    remove_events([seal.event for seal in chain[-25:]])
    line = assert_only_clinic_a_broken(verify(), "ends at #5", "the newest 25 event(s) were removed")
    assert f"holds {A_EVENTS} events (head #{A_EVENTS})" in line


def test_events_sealed_after_a_truncation_do_not_hide_it(trail):
    """After the newest events are removed, new events are sealed onto the shorter chain; the checkpoint
    still holds the old head, and no checkpoint is written over it."""
    tenant_a, _ = trail
    chain = seals(tenant_a.organization)
    remove_events([seal.event for seal in chain[-3:]])
    for step in range(5):
        audit.record(action=f"test.after{step}", organization=tenant_a.organization)
    assert seal_now() is None  # the checkpoint that would have hidden it is refused
    assert_only_clinic_a_broken(verify(), f"#{A_EVENTS} does not match the checkpoint", "the chain was rebuilt")


# --- a whole chain removed ------------------------------------------------------------------------------------
def test_an_organizations_whole_chain_removed_is_named(trail):
    _, tenant_b = trail
    remove_events(events_of(tenant_b.organization))
    outcome = verify()
    assert outcome.code == 2
    [line] = outcome.broken
    assert line.startswith("BROKEN organization clinic-b: the checkpoint of ")
    assert line.endswith(f" holds {B_EVENTS} events; the database holds none: the chain was removed whole")
    assert outcome.ok("organization clinic-a") == f"ok organization clinic-a: {A_EVENTS} events"


def test_the_platform_chain_removed_is_named(trail):
    remove_events(events_of(None))
    outcome = verify()
    assert outcome.code == 2
    assert outcome.line("platform").startswith("BROKEN platform: ")
    assert "the chain was removed whole" in outcome.line("platform")


# --- a chain rebuilt without the key ------------------------------------------------------------------------
def _rebuild_from(organization, removed_index: int, make_mac) -> None:
    """Remove one sealed event and renumber and re-link every later seal with ``make_mac`` (the attacker
    cannot use the sealing key)."""
    chain = seals(organization)
    remove_events([chain[removed_index].event])
    previous = chain[removed_index - 1].mac if removed_index else GENESIS
    for seal in chain[removed_index + 1:]:
        sequence = seal.sequence - 1
        mac = make_mac(seal_message(seal.event, sequence=sequence, previous_mac=previous, key_id=seal.key_id,
                                    sealed_at=seal.sealed_at))
        tamper("UPDATE audit_auditseal SET sequence = %s, previous_mac = %s, mac = %s WHERE id = %s",
               [sequence, previous, mac, seal.pk])
        previous = mac


@pytest.mark.parametrize(
    "make_mac",
    [
        pytest.param(lambda message: hashlib.sha256(message).hexdigest(), id="plain-sha256"),
        pytest.param(keys.Key("0" * 16, b"a guessed key of the right length, but not ours").mac, id="another-key"),
    ],
)
def test_a_chain_rebuilt_without_the_key_is_named(trail, make_mac):
    tenant_a, _ = trail
    _rebuild_from(tenant_a.organization, 12, make_mac)
    outcome = verify()
    assert_only_clinic_a_broken(outcome, "seal #13 ", "does not match its seal")
    # Seals that name our key id but carry other MACs are tampering, not a key that is missing.
    assert outcome.not_checked == []


# --- keys ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("configured", [[], ["a-wrong-key-that-is-long-enough-to-be-accepted-xx"]])
def test_a_missing_or_wrong_key_is_said_and_never_ok(trail, settings, configured):
    tenant_a, _ = trail
    audit.record(action="test.queued", organization=tenant_a.organization)
    key_ids = set(AuditSeal.objects.values_list("key_id", flat=True))
    settings.AUDIT_HMAC_KEY = configured
    outcome = verify()
    assert outcome.code == 3, (outcome.out, outcome.err)
    assert not any(line.startswith("ok ") for line in outcome.out)
    assert outcome.not_checked, outcome.err
    said = " ".join(outcome.err)
    assert ("AUDIT_HMAC_KEY is not set" in said) if not configured else ("does not hold" in said)
    # Nothing was sealed under the wrong key.
    assert PendingSeal.objects.count() == 1
    assert set(AuditSeal.objects.values_list("key_id", flat=True)) == key_ids


def test_a_short_key_is_refused(trail, settings):
    settings.AUDIT_HMAC_KEY = ["short"]
    outcome = verify()
    assert outcome.code == 3 and "shorter than 32 characters" in " ".join(outcome.err)


def test_a_rotated_key_keeps_old_seals_verifiable(trail, settings):
    tenant_a, _ = trail
    old = list(settings.AUDIT_HMAC_KEY)
    settings.AUDIT_HMAC_KEY = ["a-new-key-after-rotation-" + "n" * 30, *old]
    audit.record(action="test.after_rotation", organization=tenant_a.organization)
    outcome = verify()
    assert outcome.code == 0, outcome.err
    newest = seals(tenant_a.organization)[-1]
    assert newest.key_id == keys.signing_key().key_id != seals(tenant_a.organization)[0].key_id


def test_canonical_json_is_stable():
    assert canonical_json({"b": 1, "a": [1, "é"]}) == b'{"a":[1,"\\u00e9"],"b":1}'


# --- one organization ----------------------------------------------------------------------------------------
def test_the_organization_option_checks_only_that_chain(trail):
    _, tenant_b = trail
    victim = seals(tenant_b.organization)[0]
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.changed", victim.event_id])

    only_a = verify("--organization", "clinic-a")
    assert only_a.code == 0 and only_a.err == []
    assert only_a.out[1:] == [f"ok organization clinic-a: {A_EVENTS} events"]

    only_b = verify("--organization", "clinic-b")
    assert only_b.code == 2
    assert only_b.broken == [
        f"BROKEN organization clinic-b: seal #1 (event id={victim.event_id} action=test.changed): the event does not "
        "match its seal (changed after sealing, or a forged seal)"
    ]
    assert not any(line.startswith("ok ") for line in only_b.out)


def test_the_organization_option_with_no_events_and_an_unknown_slug(trail):
    from medilens.testing.factories import OrganizationFactory

    OrganizationFactory(slug="quiet-clinic")
    outcome = verify("--organization", "quiet-clinic")
    assert (outcome.code, outcome.out[1:], outcome.err) == (0, ["ok organization quiet-clinic: 0 events"], [])
    unknown = verify("--organization", "no-such-clinic")
    assert unknown.code != 0 and unknown.out == []
