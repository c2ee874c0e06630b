"""The biomarker trend query is answered from biomarker_history_idx alone on PostgreSQL (migration 0015): the
index carries every column the selector reads. A column added to the selector but not to the index turns
the plan into an index scan with heap fetches, and this test fails (benchmarks/trend_query.py measures it
at 10 M rows)."""

import pytest
from django.db import connection, transaction

from accounts.tenancy import organization_scope
from assessments import selectors
from assessments.tests.portal import make_assessment, make_patient

pytestmark = pytest.mark.django_db


def _plan(patient) -> str:
    with organization_scope(patient.organization), transaction.atomic():
        with connection.cursor() as cursor:
            # A few rows: without this the planner would rightly read the table; the question is whether the
            # index can answer the query by itself.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        return selectors.patient_biomarker_history(patient, "pce_ascvd_10y", days=3650).explain()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no covering indexes")
def test_the_trend_query_is_an_index_only_scan(tenant_a):
    patient = make_patient(tenant_a, "IX-1")
    for _ in range(3):
        make_assessment(tenant_a, patient, run=True)
    plan = _plan(patient)
    assert "Index Only Scan" in plan and "biomarker_history_idx" in plan, plan
    with organization_scope(tenant_a.organization):
        assert len(selectors.patient_biomarker_history(patient, "pce_ascvd_10y", days=3650)) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no covering indexes")
def test_the_index_keeps_its_keys_and_includes_the_columns_read():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('biomarker_history_idx'::regclass)")
        definition = cursor.fetchone()[0]
    assert "(organization_id, patient_id, name, measured_at DESC)" in definition
    included = definition.split("INCLUDE (", 1)[1].rstrip(")").split(", ")
    assert set(included) >= {"value", "unit", "flag", "reference_low", "reference_high", "assessment_id", "id"}
