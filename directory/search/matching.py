"""The ranked match of folded words against a directory table, on each database.

Both databases rank the same way: rows whose name starts with the whole query first, then (facilities)
those whose commune does, then rows where every word starts a word of the name or commune; within a tier,
the caller's order (distance, boxes dispensed, name). "Starts with the whole query" means the first
word starts the name and the others start words after it, in order. Words are folded by ``directory.text.fold`` on both
sides, so "saint etienne" meets "Saint-Étienne" stored as "saint etienne", and they hold only a-z and 0-9:
nothing in them can be read as LIKE, tsquery or FTS5 syntax.

- PostgreSQL: a full-text prefix query (``to_tsquery('simple', 'saint:* & etienne:*')``) on a GIN index of
  the folded text; when fewer than FUZZY_FILL rows match so, typo-tolerant matches follow them (pg_trgm's
  ``<%`` word similarity, on a GIN trigram index), most similar first.
- SQLite: an FTS5 table over the folded columns (kept in step by triggers), queried with prefix terms
  (``"saint"* "etienne"*``). No fuzzy matching: SQLite has no trigram similarity.

The indexes, the FTS5 tables and their triggers are made by directory's search migrations."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

# Typo-tolerant matches are looked for only when the prefix matches are fewer than this: a query that
# matches plenty as typed does not need guesses, and a misspelt one usually matches nothing as typed.
FUZZY_FILL = 100


@dataclass(frozen=True)
class Table:
    name: str
    fts: str  # the FTS5 table (SQLite)
    document: str  # the folded text searched (PostgreSQL), exactly as the migration's indexes spell it
    prefix_columns: tuple[str, ...]  # a row whose column starts with the whole query ranks first, in this order


@dataclass
class Conditions:
    """Filters beside the text match, and the order within a tier, as SQL with their parameters."""

    where: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    order_params: list = field(default_factory=list)

    def add(self, sql: str, *params) -> None:
        self.where.append(sql)
        self.params.extend(params)


def _tier(table: Table, words: tuple[str, ...]) -> tuple[str, list]:
    # "Starts with the query": the first word starts the column and the others follow in order, each the
    # start of something ("sain etien" ranks "saint etienne ..." first).
    pattern = "% ".join(words) + "%"
    whens = " ".join(f"WHEN f.{column} LIKE %s THEN {rank}" for rank, column in enumerate(table.prefix_columns))
    return f"CASE {whens} ELSE {len(table.prefix_columns)} END", [pattern] * len(table.prefix_columns)


def _run(sql: str, params: list) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def ranked_ids(
    table: Table, *, dataset_id: int, words: tuple[str, ...], conditions: Conditions, limit: int
) -> list[int]:
    """Ids of the matching rows of ``dataset_id``, best first, at most ``limit``."""
    where = ["f.dataset_id = %s", *conditions.where]
    params = [dataset_id, *conditions.params]
    order, order_params = list(conditions.order), list(conditions.order_params)
    join = ""
    if words:
        if connection.vendor == "postgresql":
            where.append(f"to_tsvector('simple', {table.document}) @@ to_tsquery('simple', %s)")
            params.append(" & ".join(f"{word}:*" for word in words))
        else:
            join = f"JOIN {table.fts} ON {table.fts}.rowid = f.id"
            where.append(f"{table.fts} MATCH %s")
            params.append(" ".join(f'"{word}"*' for word in words))
        tier_sql, tier_params = _tier(table, words)
        order, order_params = [tier_sql, *order], tier_params + order_params
    sql = (
        f"SELECT f.id FROM {table.name} f {join} WHERE {' AND '.join(where)} "  # noqa: S608 - names are constants
        f"ORDER BY {', '.join([*order, 'f.id'])} LIMIT %s"
    )
    ids = _run(sql, params + order_params + [limit])
    if words and connection.vendor == "postgresql" and len(ids) < min(FUZZY_FILL, limit):
        seen = set(ids)
        ids += [pk for pk in _fuzzy_ids(table, dataset_id, words, conditions, limit) if pk not in seen][
            : limit - len(ids)
        ]
    return ids


def _fuzzy_ids(table: Table, dataset_id: int, words: tuple[str, ...], conditions: Conditions, limit: int) -> list[int]:
    phrase = " ".join(words)
    where = ["f.dataset_id = %s", f"%s <%% ({table.document})", *conditions.where]
    order = [f"word_similarity(%s, {table.document}) DESC", *conditions.order, "f.id"]
    sql = (
        f"SELECT f.id FROM {table.name} f WHERE {' AND '.join(where)} "  # noqa: S608 - names are constants
        f"ORDER BY {', '.join(order)} LIMIT %s"
    )
    return _run(sql, [dataset_id, phrase, *conditions.params, phrase, *conditions.order_params, limit])
