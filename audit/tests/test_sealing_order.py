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

from .support import verify

WRITERS = 4
EVENTS_PER_WRITER = 25


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("committed_audit_rows_removable")
@pytest.mark.parametrize("chain", ["organization", "platform"])
def test_concurrent_writers_are_sealed_once_in_each_writers_order(chain):
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
