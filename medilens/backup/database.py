"""The database side of backup and restore: a consistent copy with its row counts and migration state.

PostgreSQL: one REPEATABLE READ transaction exports its snapshot; ``pg_dump --format=custom --snapshot``
dumps exactly what that transaction sees, and the row counts, migration state and audit heads are read in
the same transaction, so the manifest describes the dump and nothing else. A restore pipes ``pg_restore``
into one ``psql --single-transaction``: all of it or none of it.

SQLite (the embedded default): the online backup API (``sqlite3.Connection.backup``) copies the live file
page by page, consistent even while the app writes; counts are read from the copy. A restore copies back
with the same API, which also handles the WAL files of the target.

Session rows are left out of every archive: a session is a bearer credential, and a restore must not bring
back sessions that had ended.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

EXCLUDED_DATA = ("django_session",)
DUMP_TIMEOUT = 6 * 60 * 60
_PG_TABLES = (
    "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
    "ORDER BY schemaname, tablename"
)
_AUDIT_TABLE = "audit_auditevent"


class DatabaseError(Exception):
    pass


@dataclass
class Snapshot:
    vendor: str
    path: Path
    row_counts: dict[str, int]
    migrations: dict[str, list[str]]
    audit_heads: dict[str, dict] = field(default_factory=dict)

    @property
    def member(self) -> str:
        return "database/" + ("dump.pgcustom" if self.vendor == "postgresql" else "medilens.sqlite3")


def vendor() -> str:
    return connections["default"].vendor


def _settings() -> dict:
    return connections["default"].settings_dict


# --- migration state ------------------------------------------------------------------------------------
def _group(rows) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for app, name in rows:
        grouped.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(grouped.items())}


def migrations_ahead_of_code(archived: dict[str, list[str]]) -> list[str]:
    """Migrations recorded in an archive that this code does not have: the archive is from a newer version."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return [f"{app}.{name}" for app, names in sorted(archived.items()) for name in names if (app, name) not in known]


def _audit_heads(rows) -> dict[str, dict]:
    return {
        (str(organization_id) if organization_id is not None else "platform"): {"sequence": sequence, "hash": digest}
        for organization_id, sequence, digest in rows
    }


_AUDIT_HEADS = (
    f"SELECT e.organization_id, e.sequence, e.hash FROM {_AUDIT_TABLE} e JOIN ("  # noqa: S608 (a constant)
    f"SELECT organization_id, MAX(sequence) AS sequence FROM {_AUDIT_TABLE} GROUP BY organization_id"
    ") h ON e.sequence = h.sequence AND "
    "(e.organization_id = h.organization_id OR (e.organization_id IS NULL AND h.organization_id IS NULL))"
)


# --- PostgreSQL -----------------------------------------------------------------------------------------
def pg_params(settings_dict: dict | None = None) -> dict[str, str]:
    """libpq connection parameters from Django's settings (options such as sslmode included; the pool is
    Django's business)."""
    settings_dict = settings_dict or _settings()
    params = {
        "dbname": settings_dict.get("NAME"),
        "user": settings_dict.get("USER"),
        "password": settings_dict.get("PASSWORD"),
        "host": settings_dict.get("HOST"),
        "port": str(settings_dict.get("PORT") or ""),
    }
    for name in ("sslmode", "sslrootcert", "sslcert", "sslkey", "options", "connect_timeout"):
        if name in (settings_dict.get("OPTIONS") or {}):
            params[name] = str(settings_dict["OPTIONS"][name])
    return {name: str(value) for name, value in params.items() if value}


def _pg_env(params: dict[str, str]) -> dict[str, str]:
    """The client tools take the connection from the environment: the password never appears in argv."""
    names = {"dbname": "PGDATABASE", "user": "PGUSER", "password": "PGPASSWORD", "host": "PGHOST", "port": "PGPORT",
             "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "options": "PGOPTIONS", "connect_timeout": "PGCONNECT_TIMEOUT"}
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    env.update({names[name]: value for name, value in params.items()})
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise DatabaseError(f"{name} is not installed (Debian package postgresql-client): it is needed for PostgreSQL")
    return found


def _pg_counts(cursor, tables) -> dict[str, int]:
    counts = {}
    for schema, table in tables:
        cursor.execute(sql.SQL("SELECT COUNT(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        counts[table if schema == "public" else f"{schema}.{table}"] = cursor.fetchone()[0]
    return counts


def _pg_snapshot(work_dir: Path) -> Snapshot:
    params = pg_params()
    path = work_dir / "dump.pgcustom"
    with psycopg.connect(**params) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot_id = cursor.fetchone()[0]
            command = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot_id}", f"--file={path}"]
            command += [f"--exclude-table-data={table}" for table in EXCLUDED_DATA]
            # Started before the counts: the snapshot stays importable only while this transaction is open.
            dump = subprocess.Popen(command, env=_pg_env(params), stderr=subprocess.PIPE)  # noqa: S603
            try:
                cursor.execute(_PG_TABLES)
                tables = cursor.fetchall()
                counts = _pg_counts(cursor, tables)
                for table in EXCLUDED_DATA:
                    if table in counts:
                        counts[table] = 0  # as in the dump, which leaves their rows out
                cursor.execute("SELECT app, name FROM django_migrations")
                migrations = _group(cursor.fetchall())
                cursor.execute(_AUDIT_HEADS)
                heads = _audit_heads(cursor.fetchall())
                _, errors = dump.communicate(timeout=DUMP_TIMEOUT)
            except BaseException:
                dump.kill()
                dump.wait()
                raise
    if dump.returncode != 0:
        raise DatabaseError(f"pg_dump failed: {errors.decode(errors='replace').strip()[-2000:]}")
    return Snapshot("postgresql", path, counts, migrations, heads)


def _pg_tables_present(params: dict[str, str]) -> int:
    with psycopg.connect(**params, autocommit=True) as connection:
        return len(connection.execute(_PG_TABLES).fetchall())


def _pg_restore(dump: Path, *, replace: bool) -> None:
    params = pg_params()
    env = _pg_env(params)
    psql = [_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1"]
    if replace:
        psql += ["-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"]
    psql += ["-f", "-"]
    restore = subprocess.Popen(  # noqa: S603
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    applied = subprocess.run(psql, env=env, stdin=restore.stdout, capture_output=True, timeout=DUMP_TIMEOUT)  # noqa: S603
    restore.stdout.close()
    restore_errors = restore.stderr.read()
    restore.wait()
    if restore.returncode != 0 or applied.returncode != 0:
        problem = (restore_errors + applied.stderr).decode(errors="replace").strip()[-2000:]
        raise DatabaseError(f"the database restore failed and was rolled back: {problem}")


def _pg_counts_now() -> tuple[dict[str, int], dict[str, list[str]]]:
    with psycopg.connect(**pg_params(), autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(_PG_TABLES)
        counts = _pg_counts(cursor, cursor.fetchall())
        cursor.execute("SELECT app, name FROM django_migrations")
        return counts, _group(cursor.fetchall())


# --- SQLite ---------------------------------------------------------------------------------------------
def _sqlite_path() -> Path:
    return Path(_settings()["NAME"])


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(row[0] for row in rows)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    quote = connections["default"].ops.quote_name
    return {
        table: connection.execute(f"SELECT COUNT(*) FROM {quote(table)}").fetchone()[0]  # noqa: S608 (quoted names from sqlite_master)
        for table in _sqlite_tables(connection)
    }


def _sqlite_snapshot(work_dir: Path) -> Snapshot:
    path = work_dir / "medilens.sqlite3"
    source = sqlite3.connect(_sqlite_path())
    copy = sqlite3.connect(path)
    try:
        source.backup(copy)
        for table in EXCLUDED_DATA:
            if table in _sqlite_tables(copy):
                copy.execute(f"DELETE FROM {table}")  # noqa: S608 (a constant)
        copy.commit()
        # Rebuilt so that the deleted rows do not linger in free pages of the copy.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.execute("VACUUM")
        counts = _sqlite_counts(copy)
        migrations = _group(copy.execute("SELECT app, name FROM django_migrations").fetchall())
        heads = _audit_heads(copy.execute(_AUDIT_HEADS).fetchall()) if _AUDIT_TABLE in counts else {}
    finally:
        copy.close()
        source.close()
    return Snapshot("sqlite", path, counts, migrations, heads)


def _sqlite_restore(copy: Path) -> None:
    connections.close_all()
    source = sqlite3.connect(copy)
    target = sqlite3.connect(_sqlite_path())
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_counts_now() -> tuple[dict[str, int], dict[str, list[str]]]:
    connection = sqlite3.connect(_sqlite_path())
    try:
        counts = _sqlite_counts(connection)
        return counts, _group(connection.execute("SELECT app, name FROM django_migrations").fetchall())
    finally:
        connection.close()


# --- what the commands call -----------------------------------------------------------------------------
def snapshot(work_dir: Path) -> Snapshot:
    kind = vendor()
    if kind == "postgresql":
        return _pg_snapshot(work_dir)
    if kind == "sqlite":
        return _sqlite_snapshot(work_dir)
    raise DatabaseError(f"backups of {kind} databases are not supported")


def table_count() -> int:
    """How many tables the target database has (0: empty, a restore may go there)."""
    if vendor() == "postgresql":
        return _pg_tables_present(pg_params())
    path = _sqlite_path()
    if not path.exists():
        return 0
    connection = sqlite3.connect(path)
    try:
        return len(_sqlite_tables(connection))
    finally:
        connection.close()


def restore(copy: Path, *, replace: bool) -> None:
    connections.close_all()
    if vendor() == "postgresql":
        _pg_restore(copy, replace=replace)
    else:
        _sqlite_restore(copy)
    connections.close_all()


def current_state() -> tuple[dict[str, int], dict[str, list[str]]]:
    """Row counts per table and migration state of the database as it is now."""
    return _pg_counts_now() if vendor() == "postgresql" else _sqlite_counts_now()
