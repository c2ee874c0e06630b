"""The per-organization hash chain and ``verify_audit_chain``: intact chains pass; an edited, removed,
re-ordered or inserted row fails, naming the first broken event."""

import hashlib
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import audit
from audit.models import AuditEvent
from audit.services import GENESIS_HASH

from .conftest import chain, forge, run_verify, tamper

A_EVENTS = 5
B_EVENTS = 3
PLATFORM_EVENTS = 3


@pytest.fixture
def chains(tenant_a, tenant_b):
    """Five events for clinic-a, three for clinic-b, three platform events, interleaved."""
    admin_a, admin_b = tenant_a.users["org_admin"], tenant_b.users["org_admin"]
    for step in range(1, A_EVENTS + 1):
        audit.record(action=f"test.a_step{step}", actor=admin_a, organization=tenant_a.organization,
                     details={"step": step})
        if step <= B_EVENTS:
            audit.record(action=f"test.b_step{step}", actor=admin_b, organization=tenant_b.organization)
        if step <= PLATFORM_EVENTS:
            audit.record(action=f"test.platform_step{step}", actor="system:test")
    return tenant_a, tenant_b


def broken_lines(*args) -> tuple[list[str], str]:
    """Run the verifier expecting failure; return its BROKEN lines and its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_chain", *args, stdout=out, stderr=err)
    assert excinfo.value.returncode == 2
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert lines and all(line.startswith("BROKEN ") for line in lines), err.getvalue()
    return lines, out.getvalue()


def names(event: AuditEvent, sequence: int | None = None) -> str:
    return f"event id={event.pk} sequence={sequence if sequence is not None else event.sequence} "


# --- the chain as written -----------------------------------------------------------------------------
def test_each_chain_starts_at_genesis_and_links_every_event(chains):
    tenant_a, tenant_b = chains
    for organization, count in ((tenant_a.organization, A_EVENTS), (tenant_b.organization, B_EVENTS),
                                (None, PLATFORM_EVENTS)):
        events = chain(organization)
        assert [e.sequence for e in events] == list(range(1, count + 1))
        assert events[0].previous_hash == GENESIS_HASH
        for previous, event in zip(events, events[1:], strict=False):
            assert event.previous_hash == previous.hash
        for event in events:
            assert event.hash == hashlib.sha256(event.canonical()).hexdigest()
    # Hashes are unique across chains even for look-alike events.
    assert AuditEvent.objects.values("hash").distinct().count() == A_EVENTS + B_EVENTS + PLATFORM_EVENTS


def test_intact_chains_pass_and_are_all_reported(chains):
    out, err = run_verify()
    assert err == ""
    assert out.splitlines() == [
        f"ok platform: {PLATFORM_EVENTS} events",
        f"ok organization clinic-a: {A_EVENTS} events",
        f"ok organization clinic-b: {B_EVENTS} events",
    ]


def test_an_empty_database_passes(db):
    assert run_verify() == ("", "")


# --- content edited -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "assignment",
    [
        "action = 'test.innocent'",
        "actor_label = 'someone-else@example.org'",
        "outcome = 'failure'",
        "details = '{\"step\": 99}'::jsonb",
        "occurred_at = occurred_at + interval '1 second'",
        "ip = '10.1.2.3'",
        "target_id = '42'",
    ],
)
def test_an_edited_row_is_named(chains, assignment):
    tenant_a, _ = chains
    third = chain(tenant_a.organization)[2]
    statement = f"UPDATE audit_auditevent SET {assignment} WHERE id = %s"  # noqa: S608 - fixed test parameters
    assert tamper(statement, [third.pk]) == 1

    lines, out = broken_lines()
    assert lines == [f"BROKEN organization clinic-a: {names(third)}action={AuditEvent.objects.get(pk=third.pk).action}"
                     f": content does not match its hash (row was changed)"]
    # The other chains are still reported as intact.
    assert f"ok organization clinic-b: {B_EVENTS} events" in out
    assert f"ok platform: {PLATFORM_EVENTS} events" in out


def test_an_edit_with_a_recomputed_hash_is_caught_by_the_next_link(chains):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    third = events[2]
    third.action = "test.innocent"
    forged_hash = third.compute_hash()
    tamper("UPDATE audit_auditevent SET action = %s, hash = %s WHERE id = %s", ["test.innocent", forged_hash, third.pk])

    lines, _ = broken_lines()
    assert len(lines) == 1
    assert names(events[3]) in lines[0]
    assert "previous-hash link broken" in lines[0]


def test_only_the_first_broken_event_of_a_chain_is_named(chains):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    tamper("UPDATE audit_auditevent SET outcome = 'denied' WHERE id IN (%s, %s)", [events[1].pk, events[3].pk])

    lines, _ = broken_lines()
    assert len(lines) == 1
    assert names(events[1]) in lines[0]
    assert f"id={events[3].pk} " not in lines[0]


def test_a_broken_platform_chain_is_named_as_platform(chains):
    platform = chain(None)
    tamper("UPDATE audit_auditevent SET actor_label = 'nobody' WHERE id = %s", [platform[0].pk])

    lines, out = broken_lines()
    assert lines == [
        f"BROKEN platform: {names(platform[0])}action=test.platform_step1: content does not match its hash "
        "(row was changed)"
    ]
    assert f"ok organization clinic-a: {A_EVENTS} events" in out


# --- rows removed -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("removed_index", [0, 2])
def test_a_removed_row_is_named_by_the_event_after_the_gap(chains, removed_index):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    assert tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[removed_index].pk]) == 1

    lines, _ = broken_lines()
    following = events[removed_index + 1]
    assert lines == [
        f"BROKEN organization clinic-a: {names(following)}action={following.action}: "
        f"expected sequence {removed_index + 1} (a row was removed or inserted)"
    ]


# --- rows re-ordered ----------------------------------------------------------------------------------------
def test_two_swapped_rows_are_named(chains):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    second, third = events[1], events[2]
    # (organization, sequence) is unique, so the swap goes through a free number.
    tamper("UPDATE audit_auditevent SET sequence = 1000 WHERE id = %s", [second.pk])
    tamper("UPDATE audit_auditevent SET sequence = 2 WHERE id = %s", [third.pk])
    tamper("UPDATE audit_auditevent SET sequence = 3 WHERE id = %s", [second.pk])

    lines, _ = broken_lines()
    assert lines == [
        f"BROKEN organization clinic-a: {names(third, 2)}action={third.action}: "
        "previous-hash link broken (rows re-ordered or inserted)"
    ]


# --- rows inserted out of order -------------------------------------------------------------------------------
def test_a_row_appended_with_a_link_to_an_older_event_is_named(chains):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    forged = forge(organization=tenant_a.organization, sequence=A_EVENTS + 1, previous_hash=events[1].hash)

    lines, _ = broken_lines()
    assert lines == [
        f"BROKEN organization clinic-a: {names(forged)}action=test.forged: "
        "previous-hash link broken (rows re-ordered or inserted)"
    ]


def test_a_row_inserted_in_the_middle_is_caught_at_the_next_event(chains):
    tenant_a, _ = chains
    events = chain(tenant_a.organization)
    # Make room after the second event (highest first, so sequences stay unique), then slip a
    # self-consistent row in that claims to follow the second event.
    for event in reversed(events[2:]):
        tamper("UPDATE audit_auditevent SET sequence = sequence + 1 WHERE id = %s", [event.pk])
    forge(organization=tenant_a.organization, sequence=3, previous_hash=events[1].hash)

    lines, _ = broken_lines()
    assert lines == [
        f"BROKEN organization clinic-a: {names(events[2], 4)}action={events[2].action}: "
        "previous-hash link broken (rows re-ordered or inserted)"
    ]


def test_a_row_inserted_past_a_gap_is_named(chains):
    tenant_a, _ = chains
    last = chain(tenant_a.organization)[-1]
    forged = forge(organization=tenant_a.organization, sequence=A_EVENTS + 2, previous_hash=last.hash)

    lines, _ = broken_lines()
    assert lines == [
        f"BROKEN organization clinic-a: {names(forged)}action=test.forged: "
        f"expected sequence {A_EVENTS + 1} (a row was removed or inserted)"
    ]


def test_a_row_forged_correctly_at_the_end_is_accepted_then_recording_continues_after_it(chains):
    """The verifier checks structure, not provenance: a correct append is indistinguishable from
    record(); what matters is that record() continues the chain from it rather than forking."""
    tenant_a, _ = chains
    last = chain(tenant_a.organization)[-1]
    forged = forge(organization=tenant_a.organization, sequence=A_EVENTS + 1, previous_hash=last.hash)
    event = audit.record(action="test.after", organization=tenant_a.organization)
    assert (event.sequence, event.previous_hash) == (A_EVENTS + 2, forged.hash)
    run_verify()


# --- one organization -----------------------------------------------------------------------------------------
def test_organization_option_checks_only_that_chain(chains):
    tenant_a, tenant_b = chains
    victim = chain(tenant_b.organization)[0]
    tamper("UPDATE audit_auditevent SET action = 'test.changed' WHERE id = %s", [victim.pk])

    out, err = run_verify("--organization", "clinic-a")
    assert (out, err) == (f"ok organization clinic-a: {A_EVENTS} events\n", "")

    lines, out = broken_lines("--organization", "clinic-b")
    assert lines == [
        f"BROKEN organization clinic-b: {names(victim)}action=test.changed: content does not match its hash "
        "(row was changed)"
    ]
    assert out == ""


def test_organization_option_with_no_events(db):
    from medilens.testing.factories import OrganizationFactory

    OrganizationFactory(slug="quiet-clinic")
    assert run_verify("--organization", "quiet-clinic") == ("ok organization quiet-clinic: 0 events\n", "")


def test_organization_option_with_an_unknown_slug_fails(chains):
    with pytest.raises(CommandError) as excinfo:
        run_verify("--organization", "no-such-clinic")
    assert "no organization with slug 'no-such-clinic'" in str(excinfo.value)
    assert excinfo.value.returncode != 0
