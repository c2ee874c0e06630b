"""What a search returns: the ranked ids of one dataset (cached), and the rows of one page of them."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection

# A search keeps at most this many ranked rows: a referral or a prescription look-up reads the first
# pages; a caller who needs more narrows the search (the answer says when rows were left out). 1,000 until
# 2026-12-06: ranking 1,000 rows of a common word was most of a search's time (benchmarks/directory_search.py).
MAX_RESULTS = 200


@dataclass(frozen=True)
class Hits:
    dataset_id: int | None  # the import searched; None when the source has never been imported
    ids: tuple[int, ...]
    limited: bool  # more rows matched than MAX_RESULTS

    @classmethod
    def of(cls, dataset_id: int | None, ids: list[int]) -> Hits:
        return cls(dataset_id, tuple(ids[:MAX_RESULTS]), len(ids) > MAX_RESULTS)


def current_dataset(source: str) -> int | None:
    """The import readers see now for ``source`` (one indexed read: never cached, so a swap shows at once).
    Plain SQL: every search asks it, and the ORM's query building cost more than the read (0.8 ms against 0.3)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_id FROM directory_directorysource WHERE source = %s", [source])
        row = cursor.fetchone()
    return row[0] if row else None


def ids_of(sql: str, params: list) -> list[int]:
    """The first column of every row ``sql`` returns: the ids a ranked query found."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def in_order(model, ids, fields: list[str]) -> list[dict]:
    """The rows of ``ids`` in that order (one query), each a dict of ``fields`` with the values the ORM would give
    (``.values()``: JSON decoded, decimals as Decimal). A page of results is read to be shown: model instances of
    50 rows of 19 columns cost more than the query, and building ``.values()``' SQL each time half of what is left
    (2.3 against 1.1 ms for 50 facilities, benchmarks/directory_search.py), so the SQL and each column's
    converters (the ORM's own, from the field and the backend) are made once per model and fields."""
    ids = list(ids)
    if not ids:
        return []
    select, converters = _page_query(connection.vendor, model, tuple(fields))
    if connection.vendor == "postgresql":
        sql, params = f"{select} = ANY(%s)", [ids]
    else:
        sql, params = f"{select} IN ({', '.join(['%s'] * len(ids))})", ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = {}
    for pk, *values in rows:
        row = {}
        for (name, column, functions), value in zip(converters, values, strict=True):
            for function in functions:
                value = function(value, column, connection)
            row[name] = value
        found[pk] = row
    return [found[pk] for pk in ids if pk in found]


@functools.lru_cache(maxsize=8)
def _page_query(vendor: str, model, fields: tuple[str, ...]):
    """``SELECT id, fields FROM table WHERE id`` (the caller adds the ids' condition), and per field its name, its
    column expression and the converters the ORM applies to it (``SQLCompiler.get_converters`` builds them so)."""
    table, quote = model._meta.db_table, connection.ops.quote_name
    columns, converters = [quote(model._meta.pk.column)], []
    for name in fields:
        column = model._meta.get_field(name).get_col(table)
        columns.append(quote(column.target.column))
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append((name, column, functions))
    sql = f"SELECT {', '.join(columns)} FROM {quote(table)} WHERE {quote(model._meta.pk.column)}"  # noqa: S608
    return sql, converters
