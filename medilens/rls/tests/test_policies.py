"""Every tenant table carries the policy: found from the models, so a new tenant table without a migration
applying the policy fails here."""

import pytest
from django.apps import apps
from django.db import connection

from medilens.rls import policies

pytestmark = pytest.mark.django_db


def test_every_table_with_an_organization_column_has_forced_rls_and_the_tenant_policy():
    tables = policies.tenant_tables(apps)
    # The discovery finds the tables it must (a sample of each app), not an empty list that passes trivially.
    for table in (
        "assessments_patient",
        "assessments_assessment",
        "accounts_membership",
        "accounts_apiclient",
        "audit_auditevent",
        "crypto_organizationkey",
        "modalities_modelversion",
    ):
        assert table in tables
    assert policies.unprotected_tables(connection, tables) == [], (
        "a tenant table lacks Row-Level Security: add a migration in medilens/rls/migrations running "
        "policies.apply after the migration that creates it"
    )


def test_a_tenant_table_without_the_policy_is_reported_until_the_policy_is_applied():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rls_probe (id bigint PRIMARY KEY, organization_id bigint NOT NULL)")
    assert policies.unprotected_tables(connection, ["rls_probe"]) == ["rls_probe"]
    with connection.cursor() as cursor:
        for statement in policies.statements("rls_probe", connection.ops.quote_name)[:2]:
            cursor.execute(statement)
    assert policies.unprotected_tables(connection, ["rls_probe"]) == ["rls_probe"], "RLS on but no policy yet"
    with connection.cursor() as cursor:
        for statement in policies.statements("rls_probe", connection.ops.quote_name):
            cursor.execute(statement)
    assert policies.unprotected_tables(connection, ["rls_probe"]) == []


def test_the_policy_reads_the_transaction_local_setting_with_no_organization_matching_nothing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy "
            "WHERE polname = %s AND polrelid = 'assessments_patient'::regclass",
            [policies.TENANT_POLICY],
        )
        using, check = cursor.fetchone()
    for expression in (using, check):
        assert "current_setting('app.organization_id'::text, true)" in expression
        assert "NULLIF" in expression
