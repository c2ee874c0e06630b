"""``audit.record``: who the actor was, where the request came from, what details may hold, and why an
event never needs rewriting when its actor changes."""

import pytest
from django.db import transaction
from django.db.models import ProtectedError

import audit
from audit import context
from audit.models import AuditEvent, PendingSeal
from medilens.testing.factories import UserFactory

from .support import run_verify, seal_now


# --- details never carry PHI or secrets ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "details",
    [
        {"given_name": "x"},
        {"Given_Name": "x"},
        {"family_name": "x"},
        {"date_of_birth": "1970-01-01"},
        {"notes": "x"},
        {"name": "x"},
        {"password": "x"},
        {"token": "x"},
        {"fields": ["given_name"], "given_name": "x"},
        # Nested values are just as much PHI as top-level ones.
        {"changes": {"given_name": "x"}},
        {"changes": [{"field": "family_name", "family_name": "x"}]},
    ],
)
def test_details_with_phi_keys_are_refused_and_nothing_is_written(tenant_a, details):
    with pytest.raises(ValueError, match="must not carry PHI"):
        audit.record(action="patient.updated", organization=tenant_a.organization, details=details)
    assert not AuditEvent.objects.exists()


def test_details_may_name_fields_that_hold_phi(tenant_a):
    event = audit.record(
        action="patient.updated", organization=tenant_a.organization, details={"fields": ["given_name", "notes"]}
    )
    assert AuditEvent.objects.get(pk=event.pk).details == {"fields": ["given_name", "notes"]}


@pytest.mark.parametrize("action", ["", "login", None])
def test_actions_must_be_dotted_verbs(db, action):
    with pytest.raises(ValueError, match="dotted verbs"):
        audit.record(action=action)
    assert not AuditEvent.objects.exists()


# --- actors --------------------------------------------------------------------------------------------------
def test_actor_kinds_and_labels(tenant_a):
    org = tenant_a.organization
    user = tenant_a.users["clinician"]
    client = tenant_a.api_clients["read_only"]
    by_user = audit.record(action="test.user", actor=user, organization=org)
    by_client = audit.record(action="test.client", actor=client, organization=org)
    by_task = audit.record(action="test.task", actor="system:reaper", organization=org)
    by_nobody = audit.record(action="test.system", organization=org)
    by_anonymous = audit.record(action="test.anonymous", actor="anonymous")

    assert (by_user.actor_type, by_user.actor_user_id, by_user.actor_label) == ("user", user.pk, user.email)
    assert (by_client.actor_type, by_client.actor_api_client_id, by_client.actor_label) == (
        "api_client", client.pk, f"api:{client.name} ({client.key_prefix})"
    )
    assert (by_task.actor_type, by_task.actor_label, by_task.actor_user_id) == ("system", "system:reaper", None)
    assert (by_nobody.actor_type, by_nobody.actor_label) == ("system", "system")
    assert (by_anonymous.actor_type, by_anonymous.actor_label, by_anonymous.organization_id) == (
        "anonymous", "anonymous", None
    )


def test_target_instance_and_explicit_target(tenant_a):
    user = tenant_a.users["auditor"]
    event = audit.record(action="test.target", target=user)
    assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))
    event = audit.record(action="test.target", target_type="assessments.assessment", target_id=17)
    assert (event.target_type, event.target_id) == ("assessments.assessment", "17")


def test_request_context_is_recorded(tenant_a):
    with context.bind(ip="203.0.113.5", user_agent="Portal/1.0", request_id="req-0123456789"):
        event = audit.record(action="test.context", organization=tenant_a.organization)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.ip, stored.user_agent, stored.request_id) == ("203.0.113.5", "Portal/1.0", "req-0123456789")
    # Outside a request there is no address to record.
    assert audit.record(action="test.context", organization=tenant_a.organization).ip is None


@pytest.mark.parametrize(
    ("remote_addr", "stored"),
    [
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("192.0.2.44", "192.0.2.44"),
    ],
)
def test_addresses_are_hashed_as_stored(tenant_a, remote_addr, stored):
    """PostgreSQL stores addresses as ``inet`` in canonical form; the hash must cover that form, or an
    IPv6 client written differently would make its own events look tampered with."""
    with context.bind(ip=remote_addr):
        event = audit.record(action="test.address", organization=tenant_a.organization)
    assert AuditEvent.objects.get(pk=event.pk).ip == stored
    run_verify()


def test_a_malformed_address_does_not_break_the_action_being_audited(tenant_a):
    with context.bind(ip="unknown"):
        event = audit.record(action="test.address", organization=tenant_a.organization)
    assert AuditEvent.objects.get(pk=event.pk).ip is None
    run_verify()


# --- chains are per organization -----------------------------------------------------------------------------
# record() only appends now; the sealer gives each event its place in its chain (it used to happen inside
# record(), under a per-organization lock). These tests pin the same numbering, read after the seal.
def sealed(event) -> AuditEvent:
    return AuditEvent.objects.select_related("seal").get(pk=event.pk)


def test_each_organization_and_the_platform_number_their_own_events(tenant_a, tenant_b):
    a1 = audit.record(action="test.one", organization=tenant_a.organization)
    b1 = audit.record(action="test.one", organization=tenant_b.organization)
    p1 = audit.record(action="test.one")
    a2 = audit.record(action="test.two", organization=tenant_a.organization)
    assert all(event.chain_sequence is None for event in (a1, b1, p1, a2))  # appended, not yet sealed
    seal_now()
    a1, b1, p1, a2 = (sealed(event) for event in (a1, b1, p1, a2))
    assert [e.chain_sequence for e in (a1, b1, p1, a2)] == [1, 1, 1, 2]
    assert a2.seal.previous_mac == a1.hash
    assert b1.seal.previous_mac == p1.seal.previous_mac == "0" * 64


def test_an_event_recorded_in_a_rolled_back_transaction_leaves_no_gap(tenant_a):
    org = tenant_a.organization
    audit.record(action="test.kept", organization=org)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(action="test.rolled_back", organization=org)
        raise RuntimeError("the change being audited failed")
    audit.record(action="test.kept", organization=org)
    seal_now()
    chain = AuditEvent.objects.filter(organization=org).select_related("seal").order_by("seal__sequence")
    assert [(e.chain_sequence, e.action) for e in chain] == [(1, "test.kept"), (2, "test.kept")]
    run_verify()


def test_record_is_one_insert_with_no_lock(tenant_a, django_assert_num_queries):
    """Appending is one INSERT (triggers give the append number and queue the event): no lock, nothing of
    the chain read. (It was a lock, a read of the chain's head and an INSERT.)"""
    audit.record(action="test.warm", organization=tenant_a.organization)
    with django_assert_num_queries(1) as captured:
        event = audit.record(action="test.one", organization=tenant_a.organization)
    [statement] = [query["sql"].lower() for query in captured.captured_queries]
    assert statement.startswith("insert into")
    assert "lock" not in statement and "audit_auditseal" not in statement
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.sequence == event.sequence == event.pk
    assert PendingSeal.objects.filter(event_id=event.pk).exists()


# --- actors change; events do not ------------------------------------------------------------------------------
def test_renaming_the_actor_keeps_the_label_and_the_chain(tenant_a):
    user = tenant_a.users["clinician"]
    old_email = user.email
    event = audit.record(action="test.renamed", actor=user, organization=tenant_a.organization)

    user.email = "renamed.person@clinic-a.example.org"
    user.full_name = "Renamed Person"
    user.save()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_label == old_email
    assert stored.actor_user_id == user.pk
    assert stored.content() == event.content()
    out, _ = run_verify()
    assert "ok organization clinic-a: 1 events" in out


def test_deleting_a_user_with_events_is_refused(tenant_a):
    user = tenant_a.users["technician"]
    event = audit.record(action="test.done", actor=user, organization=tenant_a.organization)
    with pytest.raises(ProtectedError) as excinfo, transaction.atomic():
        user.delete()
    assert event in set(excinfo.value.protected_objects)
    assert type(user).objects.filter(pk=user.pk).exists()
    assert AuditEvent.objects.get(pk=event.pk).actor_user_id == user.pk


def test_a_user_without_events_can_be_deleted(db):
    """The control for the test above: it is the audit event, not something else, that protects."""
    user = UserFactory()
    user.delete()
    assert not type(user).objects.filter(pk=user.pk).exists()
