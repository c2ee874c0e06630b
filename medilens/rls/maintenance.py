"""The database alias for reads that cross tenants on purpose (README, "Row-Level Security")."""

from django.conf import settings


def alias() -> str:
    """``maintenance`` (the BYPASSRLS role) when MAINTENANCE_DATABASE_URL is set, else ``default``."""
    return getattr(settings, "MAINTENANCE_DATABASE_ALIAS", "default")


class MaintenanceRoleRequired(RuntimeError):
    pass


def require_all_rows(using: str) -> None:
    """Refuse a destructive cross-tenant job on a connection that Row-Level Security holds: there it would
    see no tenant's rows and take every stored object for an orphan. PostgreSQL only."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    if not (row and row[0]):
        raise MaintenanceRoleRequired(
            "this job reads every organization's rows: run it with MAINTENANCE_DATABASE_URL set to the "
            "maintenance role (BYPASSRLS), see README 'Row-Level Security'"
        )
