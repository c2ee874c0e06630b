"""Writers append concurrently without waiting for each other (no chain lock); a sealer running at the
same time chains their events: every event sealed exactly once, each chain gapless from 1, each writer's
events in the order it wrote them. Runs on PostgreSQL here and on SQLite through test_sqlite.py."""

import threading

import pytest
from django.db import connection

import audit
from audit import jobs
from audit.models import AuditEvent, AuditSeal, PendingSeal
from medilens.testing.factories import OrganizationFactory

from .support import SQLITE_TRIGGERS, verify

WRITERS = 4
EVENTS_PER_WRITER = 25


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


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("chain", ["organization", "platform"])
def test_concurrent_writers_are_sealed_once_in_each_writers_order(committed_audit_rows_removable, chain):
    organization = OrganizationFactory(slug="busy-clinic") if chain == "organization" else None
    start = threading.Barrier(WRITERS + 1)
    written = threading.Event()
    errors: list[BaseException] = []
    sealer_runs = []

    def write(writer: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(EVENTS_PER_WRITER):
                audit.record(action="test.concurrent", organization=organization, actor=f"system:writer{writer}",
                             details={"n": n})
        except BaseException as error:  # noqa: BLE001 - reported to the main thread below
            errors.append(error)
        finally:
            connection.close()

    def seal_while_writing() -> None:
        try:
            start.wait(timeout=30)
            while not written.wait(0.005):
                run, _ = jobs.seal_and_checkpoint(wait=True)
                sealer_runs.append(run.sealed)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    sealer = threading.Thread(target=seal_while_writing)
    for thread in [*threads, sealer]:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    written.set()
    sealer.join(timeout=60)
    assert not any(thread.is_alive() for thread in [*threads, sealer])
    assert errors == []
    jobs.seal_and_checkpoint(wait=True)

    total = WRITERS * EVENTS_PER_WRITER
    chain_seals = list(AuditSeal.objects.filter(organization=organization).select_related("event").order_by("sequence"))
    assert [seal.sequence for seal in chain_seals] == list(range(1, total + 1))
    assert len({seal.event_id for seal in chain_seals}) == total
    assert AuditEvent.objects.filter(organization=organization).count() == total
    assert not PendingSeal.objects.exists()
    for writer in range(WRITERS):
        order = [seal.event.details["n"] for seal in chain_seals if seal.event.actor_label == f"system:writer{writer}"]
        assert order == list(range(EVENTS_PER_WRITER)), writer
    # The sealer ran while the writers wrote: it did not simply seal everything at the end.
    assert sum(sealer_runs) > 0
    outcome = verify()
    assert outcome.code == 0, outcome.err
    label = "organization busy-clinic" if organization else "platform"
    assert outcome.ok(label) == f"ok {label}: {total} events"
