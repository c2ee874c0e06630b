"""Tell PostgreSQL the bound tenant in every transaction, and only ever transaction-locally.

An execute wrapper on each PostgreSQL connection runs ``set_config(name, value, true)`` as the first
statement of each transaction in which something is bound (and again mid-transaction if the bound
values change). ``true`` makes the setting end with the transaction, so a connection handed back to
psycopg's pool, or a PgBouncer server connection in transaction mode, never carries it to the next
borrower. A statement run in autocommit mode while a tenant is bound is wrapped in its own short
transaction, because a setting made in a separate autocommit statement would be gone before the query.

Cost: one extra round trip per transaction that has a tenant bound (the request views and API views run
in one transaction per request, so one per request); nothing when nothing is bound.
"""

from django.db import transaction
from psycopg.pq import TransactionStatus

from .context import NOTHING, current

SET_SQL = (
    "SELECT set_config('app.organization_id', %s, true), set_config('app.user_id', %s, true), "
    "set_config('app.api_key_prefix', %s, true), set_config('app.assessment_id', %s, true), "
    "set_config('app.invitation_digest', %s, true)"
)


def _apply(database, values) -> None:
    # The raw psycopg connection: this statement must not go through the wrappers (nor the query log).
    # prepare=False (explicit; Django's client-side cursors do not prepare either): a prepared statement
    # is session state that PgBouncer in transaction mode cannot follow between server connections.
    # Its errors are Django's, as any statement's: a connection the server dropped raises Django's
    # OperationalError here too, which the worker retries on (psycopg's own would read as a crash).
    with database.wrap_database_errors:
        database.connection.execute(SET_SQL, values, prepare=False)
    database.rls_stamped = values


def stamp(execute, sql, params, many, context):
    database = context["connection"]
    wanted = current()
    if database.get_autocommit():
        if wanted == NOTHING:
            return execute(sql, params, many, context)
        with transaction.atomic(using=database.alias):
            _apply(database, wanted)
            return execute(sql, params, many, context)
    status = database.connection.info.transaction_status
    if status == TransactionStatus.INERROR:
        return execute(sql, params, many, context)  # the statement fails anyway; set_config would too
    # IDLE: this statement opens the transaction, so nothing is set in it yet.
    stamped = getattr(database, "rls_stamped", NOTHING) if status == TransactionStatus.INTRANS else NOTHING
    if stamped != wanted:
        _apply(database, wanted)
    elif status != TransactionStatus.INTRANS:
        database.rls_stamped = NOTHING
    return execute(sql, params, many, context)


def install(sender, connection, **kwargs):
    """``connection_created`` receiver: once per connection wrapper, PostgreSQL only."""
    if connection.vendor == "postgresql" and stamp not in connection.execute_wrappers:
        connection.execute_wrappers.append(stamp)
