"""The two database roles besides the owner that runs migrations, created idempotently.

* ``medilens_app``: what the web and tenant workers connect as. LOGIN, no SUPERUSER, no BYPASSRLS, owns
  nothing; DML on the schema's tables, so every tenant table's policy holds it.
* ``medilens_maintenance``: what the cross-tenant jobs connect as (README, "Row-Level Security"). LOGIN,
  BYPASSRLS (granting it needs a superuser), the same DML.

Passwords come from the environment (never the repository); without one the role keeps what it has.
Roles belong to the whole cluster, so two processes (two test sessions) may create them at once: a
conflict is retried.
"""

import time

from django.db import connections, transaction
from psycopg import errors, sql

APP_ROLE = "medilens_app"
MAINTENANCE_ROLE = "medilens_maintenance"
_RETRIES = 5


def _role_statements(role: str, *, bypass: bool, password: str | None) -> list:
    name = sql.Identifier(role)
    bypass_option = "BYPASSRLS" if bypass else "NOBYPASSRLS"
    options = sql.SQL(f"LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION {bypass_option}")
    statements = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {name}) THEN "
            "CREATE ROLE {ident}; END IF; END $$"
        ).format(name=sql.Literal(role), ident=name),
        sql.SQL("ALTER ROLE {} WITH ").format(name) + options,
    ]
    if password:
        statements.append(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(name, sql.Literal(password)))
    return statements


def _grant_statements(role: str, database: str) -> list:
    name = sql.Identifier(role)
    return [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(name),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
        # Tables the owner creates later (the next migrations) get the same grants.
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(name),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}").format(name),
    ]


def _run(alias: str, statements) -> None:
    connection = connections[alias]
    for attempt in range(_RETRIES):
        try:
            with transaction.atomic(using=alias), connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement.as_string(connection.connection))
            return
        except (errors.UniqueViolation, errors.DuplicateObject, errors.InternalError):
            # Another session created or altered the role meanwhile ("tuple concurrently updated").
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def create_roles(
    *,
    alias: str = "default",
    app_password: str | None = None,
    maintenance_password: str | None = None,
    app_role: str = APP_ROLE,
    maintenance_role: str = MAINTENANCE_ROLE,
) -> None:
    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise ValueError("database roles exist on PostgreSQL only (SQLite keeps django-scopes alone)")
    database = connection.settings_dict["NAME"]
    for role, bypass, password in (
        (app_role, False, app_password),
        (maintenance_role, True, maintenance_password),
    ):
        _run(alias, _role_statements(role, bypass=bypass, password=password))
        _run(alias, _grant_statements(role, database))
    owned = owned_tables(alias, app_role)
    if owned:
        raise ValueError(f"{app_role} owns {', '.join(owned)}: the application role must own no table")


def owned_tables(alias: str, role: str) -> list[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role])
        return sorted(row[0] for row in cursor.fetchall())
