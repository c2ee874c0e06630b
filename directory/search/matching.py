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
  FUZZY_FILL rows match so, typo-tolerant matches follow them (pg_trgm's ``<%`` word similarity, on a GiST
  trigram index), most similar first.
- SQLite: an FTS5 table over the folded columns (kept in step by triggers), queried with prefix terms
  (``"saint"* "etienne"*``). No fuzzy matching: SQLite has no trigram similarity.

The indexes, the FTS5 tables and their triggers are made by directory's search migrations."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction

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
    table: Table, join: str, where: list[str], params: list, order: list[str], order_params: list, limit: int
) -> list[int]:
    sql = (
        f"SELECT f.id FROM {table.name} f {join} WHERE {' AND '.join(where)} "  # noqa: S608 - names are constants
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
            seen = set(ids)
            fuzzy = _fuzzy_ids(table, dataset_id, words, conditions, limit)
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
    """One query per tier, best tier first, stopping once ``limit`` rows are found: a broad query ("centre")
    is answered from the name index in order, without ranking the thousands of rows it also matches."""
    pattern = _prefix_pattern(words)
    ids: list[int] = []
    earlier: list[str] = []
    for column in table.prefix_columns:
        tier = [f'f.{column} COLLATE "C" LIKE %s', *(f'NOT (f.{done} COLLATE "C" LIKE %s)' for done in earlier)]
        ids += _select(
            table,
            "",
            [*where, *tier],
            [*params, *[pattern] * (1 + len(earlier))],
            conditions.order,
            conditions.order_params,
            limit - len(ids),
        )
        if len(ids) >= limit:
            return ids
        earlier.append(column)
    words_anywhere = [
        f"to_tsvector('simple', {table.document}) @@ to_tsquery('simple', %s)",
        *(f'NOT (f.{done} COLLATE "C" LIKE %s)' for done in earlier),
    ]
    tsquery = " & ".join(f"{word}:*" for word in words)
    return ids + _select(
        table,
        "",
        [*where, *words_anywhere],
        [*params, tsquery, *[pattern] * len(earlier)],
        conditions.order,
        conditions.order_params,
        limit - len(ids),
    )


# How similar (pg_trgm word similarity, 0-1) a near spelling must be. pg_trgm's default, 0.6, misses two
# swapped letters ("clinqiue" for "clinique": 0.44, "pharamcie": 0.43); 0.4 also lets in neighbours such as
# "20mg" for "10mg" (0.4), which rank after every match as typed. A swap near a short word's start
# ("cderes" for "cedres": 0.29) stays out of reach of trigrams.
FUZZY_THRESHOLD = 0.4


def _fuzzy_ids(table: Table, dataset_id: int, words: tuple[str, ...], conditions: Conditions, limit: int) -> list[int]:
    """Near spellings, nearest first (``<<->``: 1 - word similarity), read in that order from the trigram GiST
    index so the query stops after FUZZY_FILL rows: a typo of a common word ("pharamcie") shares trigrams with
    thousands of rows, which ranking them all (the first benchmark: 100-700 ms) cannot afford."""
    phrase = " ".join(words)
    where = ["f.dataset_id = %s", f"%s <%% ({table.document})", *conditions.where]
    order = [f"%s <<-> ({table.document})", *conditions.order, "f.id"]
    sql = (
        f"SELECT f.id FROM {table.name} f WHERE {' AND '.join(where)} "  # noqa: S608 - names are constants
        f"ORDER BY {', '.join(order)} LIMIT %s"
    )
    # The operator <% (which the trigram index serves) reads its threshold from a setting: set it for this
    # transaction only (a request's, or this block's when there is none).
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(FUZZY_THRESHOLD)])
        params = [dataset_id, phrase, *conditions.params, phrase, *conditions.order_params, min(FUZZY_FILL, limit)]
        return _run(sql, params)
