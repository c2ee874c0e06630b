"""The ranked match of folded words against a directory table, on each database.

Both databases rank the same way: rows whose name starts with the whole query first, then (facilities)
those whose commune does, grouped by commune, then rows where every word starts a word of the name or commune;
within a tier (and a commune), the caller's order (distance, boxes dispensed, name). "Starts with the whole
query" means the first word starts the name and the others start words after it, in order. Words are folded
by ``directory.text.fold`` on both sides, so "saint etienne" meets "Saint-Étienne" stored as "saint etienne",
and they hold only a-z and 0-9: nothing in them can be read as LIKE, tsquery or FTS5 syntax.

- PostgreSQL: one query per tier, best first, stopping once the limit is reached: bytewise b-trees on the
  folded name, and on the commune then the name, give a prefix's rows in order; in name order, the word-start
  keys (keys.py) give the rows whose words start with the query's, so a common word is read only up to the
  limit. Ordered otherwise (by distance), or for a one-letter word, a full-text prefix query
  (``to_tsquery('simple', 'saint:* & etienne:*')``, on a GIN index) finds the words anywhere. When fewer than
  FUZZY_FILL rows match so, the query with its words' near spellings (spelling.py: trigram similarity
  against the data's own words) is searched too, and its rows follow.
- SQLite: FTS5 tables over the folded columns, queried with prefix terms (``"saint"* "etienne"*``): for
  facilities one whose rowids follow the names, so that the tiers are read in name order like PostgreSQL's
  (ranked_sqlite.py); for medicines one kept in step by triggers, whose matches are ranked and sorted in one
  query. No fuzzy matching: SQLite has no trigram similarity.

The indexes, the FTS5 tables and their triggers are made by directory's search migrations."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from . import keys, ranked_sqlite, spelling
from .hits import ids_of

# Typo-tolerant matches are looked for only when the prefix matches are fewer than this: a query that
# matches plenty as typed does not need guesses, and a misspelt one usually matches nothing as typed.
FUZZY_FILL = 100


@dataclass(frozen=True)
class Table:
    name: str
    fts: str  # the FTS5 table (SQLite)
    document: str  # the folded text searched (PostgreSQL), exactly as the migration's indexes spell it
    prefix_columns: tuple[str, ...]  # a row whose column starts with the whole query ranks first, in this order
    keyed: bool = False  # word starts read in name order: keys.TABLE (PostgreSQL), ranked_sqlite.TABLE (SQLite)


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
    return ids_of(sql, params + order_params + [limit])


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
    if table.keyed:  # SQLite's facilities: their FTS5 table in name order (ranked_sqlite.py)
        if conditions.order == [text_order(f"f.{table.prefix_columns[0]}")]:
            return ranked_sqlite.tiers(words, where, params, limit)
        return ranked_sqlite.any_order(words, where, params, conditions.order, conditions.order_params, limit)
    # SQLite's medicines: one query, the FTS5 match narrowing, the tier ranking the rows it leaves.
    pattern = _prefix_pattern(words)
    whens = " ".join(f"WHEN f.{column} LIKE %s THEN {rank}" for rank, column in enumerate(table.prefix_columns))
    tier = f"CASE {whens} ELSE {len(table.prefix_columns)} END"
    group, group_params = _group_sql(table.prefix_columns, "LIKE", pattern)
    return _select(
        table,
        f"JOIN {table.fts} ON {table.fts}.rowid = f.id",
        [*where, f"{table.fts} MATCH %s"],
        [*params, " ".join(f'"{word}"*' for word in words)],
        [tier, *group, *conditions.order],
        [pattern] * len(table.prefix_columns) + group_params + conditions.order_params,
        limit,
    )


def _group_sql(columns: tuple[str, ...], like: str, pattern: str) -> tuple[list[str], list]:
    """The ORDER BY term that groups the rows of a tier after the first by the column that put them there (the
    commune tier by commune): the first column whose value starts with the query, or '' (the first and last
    tiers)."""
    if len(columns) < 2:
        return [], []
    whens = " ".join(f"WHEN f.{column} {like} %s THEN f.{column}" for column in columns[1:])
    return [f"CASE WHEN f.{columns[0]} {like} %s THEN '' {whens} ELSE '' END"], [pattern] * len(columns)


def _tiers_postgresql(
    table: Table, words, where: list[str], params: list, conditions: Conditions, limit: int
) -> list[int]:
    """Rows whose name starts with the query first; then, when they are fewer than ``limit``, the other rows
    whose words start with the query's, those whose commune starts with it first. In name order (the caller's
    only order) and for a word found in many rows, the word-start keys lead (``_keyed``). Otherwise the name
    index gives the first tier in order, stopping at ``limit``, and the full-text index the others, looked up
    first and sorted after (OFFSET 0): walking the name index and filtering would read every row when few match
    (a commune prefix took 250 ms so)."""
    pattern = _prefix_pattern(words)
    first, *others = table.prefix_columns
    first_like = f'f.{first} COLLATE "C" LIKE %s'
    reading = _reading_word(table, words, params, conditions)
    if reading is not None:
        return _keyed(table, words, reading, where, params, limit)
    ids = _select(table, "", [*where, first_like], [*params, pattern], conditions.order, conditions.order_params,
                  limit)
    if len(ids) >= limit:
        return ids
    whens = " ".join(f'WHEN f.{column} COLLATE "C" LIKE %s THEN {rank}' for rank, column in enumerate(others))
    tier = [f"CASE {whens} ELSE {len(others)} END"] if others else []
    group, group_params = _group_sql(table.prefix_columns, 'COLLATE "C" LIKE', pattern)
    rest = [_fulltext(table), f"NOT ({first_like})"]
    return ids + _select(
        table,
        "",
        [*where, *rest],
        [*params, _tsquery(words), pattern],
        [*tier, *group, *conditions.order],
        [pattern] * len(others) + group_params + conditions.order_params,
        limit - len(ids),
        filter_first=True,
    )


def _fulltext(table: Table) -> str:
    return f"to_tsvector('simple', {table.document}) @@ to_tsquery('simple', %s)"


def _tsquery(words) -> str:
    return " & ".join(f"{word}:*" for word in words)


def _reading_word(table: Table, words, params: list, conditions: Conditions) -> str | None:
    """The word whose keys lead the search (keys.py), or None for the indexes alone: keys serve a search in name
    order whose every word has a key and whose least common word is in more than keys.FEW rows (the data's own
    counts, spelling.py); fewer rows the full-text index finds and sorts at once."""
    if not (table.keyed and keys.usable(words) and conditions.order == [text_order(f"f.{table.prefix_columns[0]}")]):
        return None
    reading = _least_common(table, params[0], words)  # ranked_ids puts the dataset's id first
    return reading if spelling.vocabulary(table, params[0]).prefix_rows(reading) > keys.FEW else None


def _least_common(table: Table, dataset_id: int, words) -> str:
    """The word that starts words of the fewest rows (the longest of equals)."""
    vocabulary = spelling.vocabulary(table, dataset_id)
    return min(words, key=lambda word: (vocabulary.prefix_rows(word), -len(word)))


def _keyed(table: Table, words, reading: str, where: list[str], params: list, limit: int) -> list[int]:
    """The tiers in name order, led by the keys of ``reading``: the rows whose name starts with the query (one
    word: the name index's range, in order); each other prefix column's tier, grouped by that column
    (``_column_tier``); then the rows whose words start with the query's."""
    pattern = _prefix_pattern(words)
    first, *others = table.prefix_columns
    first_like = f'f.{first} COLLATE "C" LIKE %s'
    name = text_order(f"f.{first}")
    if len(words) == 1:
        ids = _select(table, "", [*where, first_like], [*params, pattern], [name], [], limit)
    else:  # the range of the first word may be long and hold few of them ("pharmacie" for "pharmacie des")
        # Every name in the first word's block holds that word: the least common of the others leads there.
        block = keys.name_block(params[0], words[0])
        leading = _least_common(table, params[0], words[1:])
        ids = [] if block is None else _walk(table, leading, [*where, first_like], [*params, pattern], limit,
                                              fulltext_after=False, ranks=(block[0] - 1, block[1] + 1))  # fmt: skip
    earlier = [f"NOT ({first_like})"]
    for column in others:
        if len(ids) >= limit:
            return ids
        ids += _column_tier(table, column, words, [*where, *earlier], [*params, *[pattern] * len(earlier)],
                            limit - len(ids))  # fmt: skip
        earlier.append(f'NOT (f.{column} COLLATE "C" LIKE %s)')
    if len(ids) >= limit:
        return ids
    starts, starts_params = keys.word_starts(table.document, words)
    return ids + _walk(table, reading, [*where, *starts, *earlier],
                       [*params, *starts_params, *[pattern] * len(earlier)], limit - len(ids),
                       fulltext_after=True, words=words)  # fmt: skip


def _walk(table: Table, reading: str, where: list[str], params: list, limit: int, *, fulltext_after: bool,
          words=(), ranks: tuple[int, int | None] = (0, None)) -> list[int]:  # fmt: skip
    """Ids of the rows meeting ``where``, in name order, at most ``limit``: the rows holding the key of
    ``reading`` are read in name order (keys.py) a batch at a time, each checked on the table by primary key in
    the same statement (``keys.read``). Each batch after the first is as large as the share of rows that passed
    so far says the rest of ``limit`` needs (``_next_batch``). After keys.WALK of them without enough rows (many
    hold the key and few the whole condition), the rest, after the last row read, is asked of the table directly:
    the name index walked from there, or (for words anywhere) the full-text index and a sort. Exact: every row
    before the last one read that could match holds the key. ``ranks``: only the rows strictly between these
    name ranks can match."""
    first = table.prefix_columns[0]
    dataset_id = params[0]  # ranked_ids puts the dataset's id first
    check = f"SELECT true FROM {table.name} f WHERE f.id = k.facility_id AND {' AND '.join(where)}"  # noqa: S608
    ids: list[int] = []
    key, (after_rank, below_rank), last, walked, size = keys.key_of(reading), ranks, None, 0, keys.FIRST_BATCH
    while True:
        wanted = min(size, keys.WALK - walked)
        batch = keys.read(dataset_id, key, after_rank, wanted, below_rank, check, params)
        if batch:
            ids += [pk for pk, _rank, passed in batch if passed][: limit - len(ids)]
            walked, (last, after_rank, _passed) = walked + len(batch), batch[-1]
        if len(ids) >= limit or len(batch) < wanted:
            return ids  # enough, or every row holding the key was read
        if walked >= keys.WALK:
            break
        size = _next_batch(size, walked, len(ids), limit - len(ids))
    after = f'(f.{first} COLLATE "C", f.id) > ((SELECT {first} FROM {table.name} WHERE id = %s) COLLATE "C", %s)'  # noqa: S608
    extra, extra_params = ([_fulltext(table)], [_tsquery(words)]) if fulltext_after else ([], [])
    return ids + _select(table, "", [*where, *extra, after], [*params, *extra_params, last, last],
                         [text_order(f"f.{first}")], [], limit - len(ids), filter_first=fulltext_after)  # fmt: skip


def _next_batch(size: int, walked: int, found: int, needed: int) -> int:
    """Key rows to read next: ``needed`` rows at the pass rate seen in the ``walked`` so far, a quarter more (and
    at least keys.MIN_BATCH); four times the last batch while none has passed. A fixed growth read and checked
    1,408 rows where 60 more were needed ("clinique sainte": 30 ms)."""
    if not found:
        return size * 4
    return max(keys.MIN_BATCH, -(-needed * walked * 5 // (found * 4)))


def _column_tier(table: Table, column: str, words, where: list[str], params: list, limit: int) -> list[int]:
    """Rows whose ``column`` starts with the query, by that column and then by name. One word: the column's
    b-tree range, read in order. More words: the range of the first word may be long ("le" for "le mans"), so
    the column's values that start with the whole query are found among its distinct values first (keys.py),
    and their rows are read a few values at a time, in the values' order, until ``limit``."""
    order = [text_order(f"f.{column}"), text_order(f"f.{table.prefix_columns[0]}")]
    if len(words) == 1:
        like = f'f.{column} COLLATE "C" LIKE %s'
        return _select(table, "", [*where, like], [*params, _prefix_pattern(words)], order, [], limit)
    ids: list[int] = []
    # COLLATE "C": the column's b-tree is bytewise; compared in the default collation, the values would be
    # looked for row by row (a sequential scan, 250 ms).
    chunks = keys.growing_chunks(keys.values_starting(params[0], table.name, column, words))
    while len(ids) < limit and (chunk := next(chunks, None)):
        ids += _select(table, "", [*where, f'f.{column} COLLATE "C" = ANY(%s)'], [*params, chunk], order, [],
                       limit - len(ids))  # fmt: skip
    return ids
