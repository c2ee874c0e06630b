"""Helpers shared by the audit tests: running the verifier, tampering below the append-only trigger,
forging rows, and a platform superuser with an admin client."""

import io
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent

TRIGGER = "audit_event_append_only"


def run_verify(*args) -> tuple[str, str]:
    """Run ``verify_audit_chain``; returns (stdout, stderr). Raises CommandError when a chain is broken."""
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit_chain", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@contextmanager
def trigger_disabled():
    """Lets a test change audit rows the way an attacker with table-owner rights could.

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so rows inserted earlier in the test
    transaction leave pending trigger events, and PostgreSQL refuses ALTER TABLE while they are pending;
    checking the constraints now clears them.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def tamper(sql: str, params=None) -> int:
    """Run one raw statement on the audit table with the append-only trigger off; returns rowcount."""
    with trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def forge(*, organization, sequence: int, previous_hash: str, action: str = "test.forged") -> AuditEvent:
    """Insert a well-formed event (its own hash is right) at a chosen place. INSERT is not blocked by the
    trigger, so only the chain can reveal a row slipped in this way."""
    event = AuditEvent(
        occurred_at=timezone.now(),
        organization=organization,
        sequence=sequence,
        actor_type=AuditEvent.ActorType.SYSTEM,
        actor_label="system",
        action=action,
        details={},
        previous_hash=previous_hash,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    return event


def chain(organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=organization).order_by("sequence"))


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser(
        email="root@platform.example.org", password="platform root passphrase 9", full_name="Platform Root"
    )


@pytest.fixture
def superuser_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client
