"""Helpers and fixtures for the audit tests, on PostgreSQL (the suite's database) and on SQLite (the
embedded default, run in a subprocess by test_sqlite.py with ``-p audit.tests.support``).

Tampering goes below the append-only triggers the way someone with the table owner's rights could:
PostgreSQL disables the triggers, SQLite drops them; both put them back afterwards.
"""

import io
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from accounts.models import User
from audit import jobs
from audit.models import AuditEvent, AuditSeal

# table -> its append-only trigger(s): PostgreSQL has one per table, SQLite one per statement kind.
PG_TRIGGERS = {
    "audit_auditevent": ["audit_event_append_only"],
    "audit_auditseal": ["audit_seal_append_only"],
    "audit_chaincutover": ["audit_cutover_append_only"],
}
SQLITE_TRIGGERS = {
    "audit_auditevent": ["audit_event_no_update", "audit_event_no_delete"],
    "audit_auditseal": ["audit_seal_no_update", "audit_seal_no_delete"],
    "audit_chaincutover": ["audit_cutover_no_update", "audit_cutover_no_delete"],
}
QUEUE_TRIGGER = "audit_event_queue"


@dataclass
class Outcome:
    code: int
    out: list
    err: list

    @property
    def broken(self) -> list:
        return [line for line in self.err if line.startswith("BROKEN ")]

    @property
    def not_checked(self) -> list:
        return [line for line in self.err if line.startswith("NOT CHECKED")]

    def ok(self, label: str) -> str | None:
        return next((line for line in self.out if line.startswith(f"ok {label}:")), None)

    def line(self, label: str) -> str:
        """The one line (stdout or stderr) that reports on ``label``'s chain."""
        heads = (f"ok {label}:", f"BROKEN {label}:", f"NOT CHECKED {label}:")
        found = [line for line in self.out + self.err if line.startswith(heads)]
        assert len(found) == 1, (label, self.out, self.err)
        return found[0]


def verify(*args) -> Outcome:
    """Run ``verify_audit_chain``; never raises, returns the exit code and the lines it wrote."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("verify_audit_chain", *args, stdout=out, stderr=err)
    except CommandError as error:
        code = error.returncode
    return Outcome(code, out.getvalue().splitlines(), err.getvalue().splitlines())


def run_verify(*args) -> tuple[str, str]:
    """Run ``verify_audit_chain`` expecting success; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit_chain", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def seal_now():
    """What beat does every few seconds: seal the queue, checkpoint the chains that moved."""
    run, checkpoint = jobs.seal_and_checkpoint(wait=True)
    return checkpoint


@contextmanager
def triggers_dropped():
    """The append-only triggers out of the way (the sealing queue's trigger stays)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: rows inserted earlier in the test
            # transaction leave pending trigger events, and PostgreSQL refuses ALTER TABLE while they are
            # pending; checking the constraints now clears them.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, names in PG_TRIGGERS.items():
                for name in names:
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for table, names in PG_TRIGGERS.items():
                    for name in names:
                        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {name}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    names = [name for names in SQLITE_TRIGGERS.values() for name in names]
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(names))
        cursor.execute(f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({placeholders})", names)  # noqa: S608
        saved = [row[0] for row in cursor.fetchall()]
        assert len(saved) == len(names), "an append-only trigger is missing before the test tampered"
        for name in names:
            cursor.execute(f"DROP TRIGGER {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in saved:
                cursor.execute(statement)


def tamper(sql: str, params=None) -> int:
    """One raw statement with the append-only triggers dropped; returns the row count."""
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def remove_events(events) -> None:
    """Remove events and their seals, as someone covering their tracks would (a seal left behind would
    name its missing event)."""
    ids = [event.pk for event in events]
    if not ids:
        return
    placeholders = ", ".join(["%s"] * len(ids))
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM audit_auditseal WHERE event_id IN ({placeholders})", ids)  # noqa: S608
        cursor.execute(f"DELETE FROM audit_auditevent WHERE id IN ({placeholders})", ids)  # noqa: S608


def seals(organization) -> list[AuditSeal]:
    """A chain's seals in sequence order, each with its event."""
    organization_id = getattr(organization, "pk", organization)
    return list(AuditSeal.objects.filter(organization_id=organization_id).select_related("event").order_by("sequence"))


def events_of(organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization=organization).order_by("id"))


def trigger_names() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


def expected_triggers() -> set[str]:
    table = PG_TRIGGERS if connection.vendor == "postgresql" else SQLITE_TRIGGERS
    return {name for names in table.values() for name in names} | {QUEUE_TRIGGER}


@pytest.fixture
def committed_audit_rows_removable():
    """Tests that commit leave audit rows for the flush that follows; on SQLite the append-only triggers
    would refuse that flush's DELETE, so the rows go first with the triggers briefly dropped (PostgreSQL's
    flush truncates, which row triggers do not see)."""
    yield
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        names = [name for names in SQLITE_TRIGGERS.values() for name in names]
        cursor.execute(
            f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({', '.join(['%s'] * len(names))})",  # noqa: S608
            names,
        )
        saved = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for table in ("audit_auditseal", "audit_chaincutover", "audit_pendingseal", "audit_recentpatientread",
                      "audit_auditevent"):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608
        for statement in saved:
            cursor.execute(statement)


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

