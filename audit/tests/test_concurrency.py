"""Concurrent writers of one chain are serialized: no duplicate or missing sequence number, no fork."""

import threading

import pytest
from django.db import connection

import audit
from audit.models import AuditEvent
from audit.services import verify_chain
from medilens.testing.factories import OrganizationFactory

from .conftest import run_verify

THREADS = 4
EVENTS_PER_THREAD = 25


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("chain", ["organization", "platform"])
def test_concurrent_writers_produce_one_gapless_chain(chain):
    organization = OrganizationFactory(slug="busy-clinic") if chain == "organization" else None
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for n in range(EVENTS_PER_THREAD):
                audit.record(
                    action="test.concurrent", organization=organization, actor=f"system:worker{worker}",
                    details={"n": n},
                )
        except BaseException as error:  # noqa: BLE001 - reported to the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    total = THREADS * EVENTS_PER_THREAD
    events = list(AuditEvent.objects.filter(organization=organization).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, total + 1))
    # Every writer got all its events in.
    labels = [e.actor_label for e in events]
    assert {label: labels.count(label) for label in set(labels)} == {
        f"system:worker{w}": EVENTS_PER_THREAD for w in range(THREADS)
    }
    assert verify_chain(organization.pk if organization else None) == (total, None)
    out, err = run_verify()
    assert err == ""
    assert f"{total} events" in out
