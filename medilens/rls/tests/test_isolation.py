"""The database wall on its own: raw SQL as the application role, no Django guard in the way."""

import psycopg
import psycopg.sql
import pytest
from django.db import connection, transaction

from accounts.tenancy import organization_scope, scopes_disabled
from assessments.models import Patient
from assessments.tests.helpers_api import make_patient
from medilens.rls import policies
from medilens.rls.roles import APP_ROLE, MAINTENANCE_ROLE, owned_tables

from .conftest import connected_as, raw_connection

pytestmark = pytest.mark.django_db(transaction=True)

SET = "SELECT set_config('app.organization_id', %s, true)"


@pytest.fixture
def patients(db_roles, tenant_a, tenant_b):
    return make_patient(tenant_a), make_patient(tenant_a), make_patient(tenant_b)


def _count(cursor, table="assessments_patient") -> int:
    cursor.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table)))
    return cursor.fetchone()[0]


def test_the_roles_are_what_the_policies_assume(db_roles):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = ANY(%s)",
            [[APP_ROLE, MAINTENANCE_ROLE]],
        )
        roles = {name: rest for name, *rest in cursor.fetchall()}
    assert roles == {APP_ROLE: [False, False, True], MAINTENANCE_ROLE: [False, True, True]}
    assert owned_tables("default", APP_ROLE) == []


def test_without_the_setting_the_application_role_sees_no_tenant_row(patients):
    with connection.cursor() as cursor:
        assert _count(cursor) == 3  # the owner (superuser here) sees them all
    from django.apps import apps

    with raw_connection(APP_ROLE) as app, app.cursor() as cursor:
        assert _count(cursor) == 0
        for table in policies.tenant_tables(apps):
            if table not in ("modalities_modelversion",):  # platform-wide versions are readable by design
                assert _count(cursor, table) == 0, table


def test_with_organization_a_set_b_rows_are_invisible_and_unwritable(patients, tenant_a, tenant_b):
    a_first, _, b_patient = patients
    b_id = tenant_b.organization.pk
    with raw_connection(APP_ROLE) as app:
        with app.transaction(), app.cursor() as cursor:
            cursor.execute(SET, [str(tenant_a.organization.pk)])
            assert _count(cursor) == 2
            cursor.execute("SELECT count(*) FROM assessments_patient WHERE id = %s", [b_patient.pk])
            assert cursor.fetchone()[0] == 0
            cursor.execute("UPDATE assessments_patient SET mrn_index = 'x' WHERE id = %s", [b_patient.pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM accounts_membership WHERE organization_id = %s", [b_id])
            assert cursor.rowcount == 0
        # Moving an own row into B, or inserting a row of B, is refused by WITH CHECK.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with app.transaction(), app.cursor() as cursor:
                cursor.execute(SET, [str(tenant_a.organization.pk)])
                cursor.execute("UPDATE assessments_patient SET organization_id = %s WHERE id = %s", [b_id, a_first.pk])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with app.transaction(), app.cursor() as cursor:
                cursor.execute(SET, [str(tenant_a.organization.pk)])
                cursor.execute(
                    "INSERT INTO accounts_membership (organization_id, user_id, role, created_at) "
                    "SELECT %s, user_id, role, created_at FROM accounts_membership LIMIT 1",
                    [b_id],
                )
    with scopes_disabled():
        assert Patient.objects.get(pk=a_first.pk).organization_id == tenant_a.organization.pk
        assert Patient.objects.filter(organization=tenant_b.organization).count() == 1


def test_the_setting_ends_with_its_transaction(patients, tenant_a):
    with raw_connection(APP_ROLE) as app, app.cursor() as cursor:
        with app.transaction():
            cursor.execute(SET, [str(tenant_a.organization.pk)])
            assert _count(cursor) == 2
        assert _count(cursor) == 0
        cursor.execute("SELECT coalesce(current_setting('app.organization_id', true), '')")
        assert cursor.fetchone()[0] == ""


def test_a_connection_back_in_the_pool_carries_no_setting(patients, tenant_a):
    with connected_as(APP_ROLE) as app:
        assert app.pool is not None and app.pool.max_size == 1
        with transaction.atomic(), organization_scope(tenant_a.organization):
            assert Patient.objects.count() == 2
            with app.cursor() as cursor:
                cursor.execute("SELECT current_setting('app.organization_id', true), pg_backend_pid()")
                setting, pid = cursor.fetchone()
        assert setting == str(tenant_a.organization.pk)
        app.close()  # back to the pool
        with app.cursor() as cursor:
            cursor.execute("SELECT coalesce(current_setting('app.organization_id', true), ''), pg_backend_pid()")
            assert cursor.fetchone() == ("", pid)  # the very same server connection, and no setting
        with scopes_disabled():
            assert Patient.objects.count() == 0


def test_the_orm_under_the_application_role_fails_closed(patients, tenant_a, tenant_b):
    b_patient = patients[2]
    with connected_as(APP_ROLE):
        # A misplaced scopes_disabled(): the database still shows nothing.
        with scopes_disabled():
            assert Patient.objects.count() == 0
        # Autocommit (no atomic block): each query gets its own short transaction with the setting.
        with organization_scope(tenant_a.organization), scopes_disabled():
            assert Patient.objects.count() == 2
            assert not Patient.objects.filter(pk=b_patient.pk).exists()
        with organization_scope(tenant_b.organization):
            assert list(Patient.objects.values_list("pk", flat=True)) == [b_patient.pk]
        # Nested scopes inside one transaction: the inner organization, then the outer again.
        with transaction.atomic(), organization_scope(tenant_a.organization), scopes_disabled():
            with organization_scope(tenant_b.organization):
                assert Patient.objects.count() == 1
            assert Patient.objects.count() == 2


def test_stamping_leaves_no_session_state_for_pgbouncer(patients, tenant_a):
    """Transaction mode hands each transaction to any server connection: nothing may outlive it, not even
    a prepared statement. Django's client-side cursors prepare nothing and the stamp asks for no
    preparing; a threshold of 1 (as a deployment's OPTIONS could set) shows it holds even then."""
    with connected_as(APP_ROLE, options={"prepare_threshold": 1}) as app:
        for _ in range(8):
            with transaction.atomic(), organization_scope(tenant_a.organization):
                assert Patient.objects.count() == 2
        with app.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT coalesce(current_setting('app.organization_id', true), '')")
            assert cursor.fetchone()[0] == ""
