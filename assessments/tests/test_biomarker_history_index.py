"""The biomarker trend query can be answered from biomarker_history_idx alone on PostgreSQL (migration 0015):
the index carries every column the selector reads. A column added to the selector but not to the index
would turn the plan into an index scan with a heap fetch per value, and this test fails
(benchmarks/trend_query.py shows the plan at 10 M rows: an index-only scan)."""

import re

import pytest
from django.db import connection

from accounts.tenancy import organization_scope
from assessments import selectors
from assessments.tests.portal import make_assessment, make_patient

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no covering indexes"),
]


def _index_columns() -> tuple[list[str], list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('biomarker_history_idx'::regclass)")
        definition = cursor.fetchone()[0]
    keys = re.search(r"USING btree \(([^)]*)\)", definition).group(1)
    included = re.search(r"INCLUDE \(([^)]*)\)", definition)
    return [key.split()[0] for key in keys.split(", ")], included.group(1).split(", ") if included else []


def test_the_index_keeps_its_keys_and_covers_every_column_the_trend_query_reads(tenant_a):
    keys, included = _index_columns()
    assert keys == ["organization_id", "patient_id", "name", "measured_at"]
    patient = make_patient(tenant_a, "IX-1")
    for _ in range(3):
        make_assessment(tenant_a, patient, run=True)
    with organization_scope(tenant_a.organization):
        queryset = selectors.patient_biomarker_history(patient, "pce_ascvd_10y", days=3650)
        sql = str(queryset.query)
        assert len(queryset) == 3
    read = set(re.findall(r'"assessments_biomarkervalue"\."(\w+)"', sql))
    assert read and read <= set(keys) | set(included), read - set(keys) - set(included)
