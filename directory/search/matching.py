"""The ranked match of folded words against a directory table, on each database.

Both databases rank the same way: rows whose name starts with the whole query first, then (facilities)
those whose commune does, then rows where every word starts a word of the name or commune; within a tier,
the caller's order (distance, boxes dispensed, name). "Starts with the whole query" means the first
word starts the name and the others start words after it, in order. Words are folded by ``directory.text.fold`` on both
sides, so "saint etienne" meets "Saint-Étienne" stored as "saint etienne", and they hold only a-z and 0-9:
nothing in them can be read as LIKE, tsquery or FTS5 syntax.

- PostgreSQL: one query per tier, best first, stopping once the limit is reached: bytewise b-trees on the
  folded name and commune give a prefix's rows in order; a full-text prefix query
  (``to_tsquery('simple', 'saint:* & etienne:*')``, on a GIN index) finds the words anywhere. When fewer than
  FUZZY_FILL rows match so, the query with its words' near spellings (spelling.py: trigram similarity
  against the data's own words) is searched too, and its rows follow.
- SQLite: an FTS5 table over the folded columns (kept in step by triggers), queried with prefix terms
  (``"saint"* "etienne"*``). No fuzzy matching: SQLite has no trigram similarity.

The indexes, the FTS5 tables and their triggers are made by directory's search migrations."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from . import spelling

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


def _prefix_pattern(words: tuple[str, ...]) -> str:
    # "Starts with the query": the first word starts the column and the others follow in order, each the
    # start of a word ("sain etien" ranks "saint etienne ..." first).
    return "% ".join(words) + "%"


def text_order(column: str) -> str:
    """``column`` as an ORDER BY term. PostgreSQL compares it bytewise (COLLATE "C", as the search indexes are
    built), so the index that finds a name prefix also gives the rows in order and a LIMIT stops early; folded
    text is a-z, 0-9 and spaces, whose bytewise order is the alphabetical one."""
    return f'{column} COLLATE "C"' if connection.vendor == "postgresql" else column


def _run(sql: str, params: list) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _select(
    table: Table,
    join: str,
    where: list[str],
    params: list,
    order: list[str],
    order_params: list,
    limit: int,
    *,
    filter_first: bool = False,
) -> list[int]:
    rows = f"{table.name} f {join} WHERE {' AND '.join(where)}"
    if filter_first:
        # OFFSET 0 keeps PostgreSQL from walking the name index in order and filtering as it goes, which reads
        # every row when few match (a commune's prefix: 250 ms over 100,000 establishments): find, then sort.
        rows = f"(SELECT f.* FROM {rows} OFFSET 0) f"  # noqa: S608 - names are constants
    sql = (
        f"SELECT f.id FROM {rows} "  # noqa: S608 - names are constants
        f"ORDER BY {', '.join([*order, 'f.id'])} LIMIT %s"
    )
    return _run(sql, params + order_params + [limit])


def ranked_ids(
    table: Table, *, dataset_id: int, words: tuple[str, ...], conditions: Conditions, limit: int
) -> list[int]:
    """Ids of the matching rows of ``dataset_id``, best first, at most ``limit``."""
    where = ["f.dataset_id = %s", *conditions.where]
    params = [dataset_id, *conditions.params]
    if not words:
        return _select(table, "", where, params, conditions.order, conditions.order_params, limit)
    if connection.vendor == "postgresql":
        ids = _tiers_postgresql(table, words, where, params, conditions, limit)
        if len(ids) < min(FUZZY_FILL, limit):
            corrected = spelling.vocabulary(table, dataset_id).corrected(words)
            if corrected != words:
                seen = set(ids)
                fuzzy = _tiers_postgresql(table, corrected, where, params, conditions, FUZZY_FILL)
                ids += [pk for pk in fuzzy if pk not in seen][: limit - len(ids)]
        return ids
    # SQLite: one query, the FTS5 match narrowing, the tier ranking the (few) rows it leaves.
    pattern = _prefix_pattern(words)
    whens = " ".join(f"WHEN f.{column} LIKE %s THEN {rank}" for rank, column in enumerate(table.prefix_columns))
    tier = f"CASE {whens} ELSE {len(table.prefix_columns)} END"
    return _select(
        table,
        f"JOIN {table.fts} ON {table.fts}.rowid = f.id",
        [*where, f"{table.fts} MATCH %s"],
        [*params, " ".join(f'"{word}"*' for word in words)],
        [tier, *conditions.order],
        [pattern] * len(table.prefix_columns) + conditions.order_params,
        limit,
    )


def _tiers_postgresql(
    table: Table, words, where: list[str], params: list, conditions: Conditions, limit: int
) -> list[int]:
    """Rows whose name starts with the query first, read in order from the name index and stopping at
    ``limit`` (a broad "centre" ranks none of the thousands of rows it matches); then, when they are fewer, the
    other rows whose words start with the query's (the full-text index), those whose commune starts with it
    first. The second query looks the rows up first and sorts them after (OFFSET 0): walking the name index
    and filtering would read every row when few match (a commune prefix took 250 ms so)."""
    pattern = _prefix_pattern(words)
    first, *others = table.prefix_columns
    first_like = f'f.{first} COLLATE "C" LIKE %s'
    ids = _select(table, "", [*where, first_like], [*params, pattern], conditions.order, conditions.order_params,
                  limit)
    if len(ids) >= limit:
        return ids
    whens = " ".join(f'WHEN f.{column} COLLATE "C" LIKE %s THEN {rank}' for rank, column in enumerate(others))
    tier = [f"CASE {whens} ELSE {len(others)} END"] if others else []
    rest = [
        f"to_tsvector('simple', {table.document}) @@ to_tsquery('simple', %s)",
        f"NOT ({first_like})",
    ]
    tsquery = " & ".join(f"{word}:*" for word in words)
    return ids + _select(
        table,
        "",
        [*where, *rest],
        [*params, tsquery, pattern],
        [*tier, *conditions.order],
        [pattern] * len(others) + conditions.order_params,
        limit - len(ids),
        filter_first=True,
    )


