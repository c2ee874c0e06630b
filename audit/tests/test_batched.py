"""``audit.batched``: the events recorded in the block are written in one INSERT when it ends, numbered in
the order they were recorded; a block that fails writes none of them."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import audit
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite appends one by one (its write lock)")
def test_the_events_of_a_block_are_one_insert_in_the_order_recorded(tenant_a):
    organization = tenant_a.organization
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), audit.batched():
        first = audit.record(action="test.first", actor="system:test", organization=organization)
        second = audit.record(action="test.second", actor="system:test", organization=organization)
        assert first.pk is None and second.pk is None  # not written yet
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('INSERT INTO "audit_auditevent"')]
    assert len(inserts) == 1
    assert first.sequence < second.sequence and first.pk == first.sequence
    stored = list(
        AuditEvent.objects.filter(pk__in=[first.pk, second.pk]).order_by("sequence").values_list("action", flat=True)
    )
    assert stored == ["test.first", "test.second"]


def test_a_block_that_fails_writes_none_of_its_events(tenant_a):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), audit.batched():
        audit.record(action="test.lost", actor="system:test", organization=tenant_a.organization)
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(action="test.lost").exists()
