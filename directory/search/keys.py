"""Word-start keys: PostgreSQL's ordered answer to "a word of this facility's name or commune starts with ...".

The full-text index finds such rows but not in name order, so a word that many names contain ("le", "saint",
"hospitalier": tens of thousands of the 100,000 establishments) had all its rows read and sorted before the first
page: 20-75 ms each (benchmarks/directory_search.py). Walking the name index and filtering instead is fast only
when the matching names are spread evenly, and they are not: "hospitalier" sits inside "centre hospitalier ...",
so a walk from "a" reads every name before "centre h" first.

So the import writes, for each establishment and each word of its folded name and commune, the word's first 2,
3, 5, 6 and 8 letters (as many of those as the word has) with the establishment's rank in name order:
``directory_facility_key (dataset_id, key, name_rank, facility_id)``, indexed on (dataset_id, key, name_rank).
A query word of n letters (n >= 2) reads the key of its longest length <= n: the index gives those rows in
name order, so reading stops at the limit, and each row is checked against the whole query (its other words,
and the letters past the key's) on the establishment's own row. About 21 keys per establishment: 2.1 M rows
(about 195 MB) for 100,000 establishments, built in SQL during the import (README, "Reference directory").
Six letters since 2026-12-07: with five, "sainte" read the key "saint", and three rows in four of "clinique
... saint..." were read to be refused (30 ms).

SQLite has no such table: its facilities' FTS5 table has rowids in name order instead (ranked_sqlite.py).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice

from django.db import connection

TABLE = "directory_facility_key"
KEY_LENGTHS = (2, 3, 5, 6, 8)
# A query word found in at most this many rows takes the full-text index and a sort instead (a few ms), and so
# does a word longer than its key whose own letters nothing holds (a typo): its key's rows would all be read
# and refused.
FEW = 2000
# Key rows read in name order before the rest of the query is left to the full-text index (matching.py): many
# rows hold the key and few of them the whole query ("montbeliard sur").
WALK = 2048
FIRST_BATCH = 128  # rows of the first batch read; the next ones as many as the pass rate says (matching._next_batch)
MIN_BATCH = 32
_VALUES_KEPT = 4
AFTER_WORDS = "\x7f"  # after every folded text that starts with a word (folded text is a-z, 0-9 and spaces)

_RANK = """
UPDATE directory_facility f SET name_rank = r.name_rank
FROM (SELECT id, row_number() OVER (ORDER BY name_folded COLLATE "C", id) AS name_rank
      FROM directory_facility WHERE dataset_id = %s) r
WHERE f.id = r.id
"""
_BUILD = f"""
INSERT INTO {TABLE} (dataset_id, key, name_rank, facility_id)
SELECT DISTINCT f.dataset_id, left(w.word, n.length), f.name_rank, f.id
FROM directory_facility f
CROSS JOIN LATERAL regexp_split_to_table(f.name_folded || ' ' || f.commune_folded, ' ') AS w(word)
CROSS JOIN LATERAL unnest(%s::int[]) AS n(length)
WHERE f.dataset_id = %s AND length(w.word) >= n.length
"""  # noqa: S608 - the table is a constant


def build(dataset_id: int, lengths: tuple[int, ...] = KEY_LENGTHS, *, rank: bool = True) -> None:
    """Write the keys of one imported dataset (PostgreSQL; before it becomes current), then refresh the
    planner's statistics of the key table, which has just grown by millions of rows. A migration that adds a key
    length passes it alone (``lengths``), on datasets already ranked (``rank=False``). SQLite ranks the names and
    fills its own ranked FTS5 table instead (ranked_sqlite.py)."""
    if connection.vendor == "sqlite":
        from . import ranked_sqlite

        ranked_sqlite.build(dataset_id)
        return
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if rank:
            cursor.execute(_RANK, [dataset_id])
        cursor.execute(_BUILD, [list(lengths), dataset_id])
        # VACUUM also marks the new rows all-visible, so that the key index and the facilities' location index are
        # read without the tables (index-only scans), and clears the row versions the ranks' UPDATE left; it
        # cannot run inside a transaction (a test's), where ANALYZE does the rest.
        tables = f"{TABLE}, directory_facility"
        cursor.execute(f"ANALYZE {tables}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {tables}")


def delete(dataset_ids: list[int]) -> None:
    if not dataset_ids:
        return
    if connection.vendor == "sqlite":
        from . import ranked_sqlite

        ranked_sqlite.delete(dataset_ids)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE dataset_id = ANY(%s)", [list(dataset_ids)])  # noqa: S608


def name_block(dataset_id: int, word: str) -> tuple[int, int] | None:
    """The name ranks of the first and the last facility name that start with ``word`` (the name index; both
    databases rank the names the same way): in name order, those names are the rows between them, both
    included. None when no name does. PostgreSQL reads the prefix as LIKE, whose row estimate lets it stop after
    the first rows (an incremental sort); the same range written as >= and < is estimated at one row and sorted
    whole. SQLite's LIKE uses no index: there it is the range."""
    if connection.vendor == "postgresql":
        name, prefix, prefix_params = 'name_folded COLLATE "C"', 'name_folded COLLATE "C" LIKE %s', [word + "%"]
    else:
        name, prefix = "name_folded", "name_folded >= %s AND name_folded < %s"
        prefix_params = [word, word + AFTER_WORDS]
    one = (
        f"SELECT name_rank FROM directory_facility WHERE dataset_id = %s AND {prefix} "  # noqa: S608 - constants
        f"ORDER BY {name} {{0}}, id {{0}} LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({one.format('ASC')}), ({one.format('DESC')})", [dataset_id, *prefix_params] * 2)
        low, high = cursor.fetchone()
    return None if low is None else (low, high)


def key_of(word: str) -> str | None:
    """The key a query word reads: its first k letters for the largest key length k it has; None for a word of
    one letter (no key is that short: such a query takes the full-text path)."""
    lengths = [length for length in KEY_LENGTHS if length <= len(word)]
    return word[: lengths[-1]] if lengths else None


def usable(words: tuple[str, ...]) -> bool:
    return connection.vendor == "postgresql" and bool(words) and all(key_of(word) for word in words)


def read(dataset_id: int, key: str, after_rank: int, size: int, below_rank: int | None, check: str,
         check_params: list) -> list[tuple[int, int, bool]]:  # fmt: skip
    """(facility id, name rank, whether it passes ``check``) of up to ``size`` rows holding ``key``, after
    ``after_rank`` (and before ``below_rank``, when given) in name order. The key rows come from the key index alone
    (it holds the facility's id: an index-only scan); ``check`` (SQL on ``f``, the facility whose id is
    ``k.facility_id``) is tried on each of them by primary key, in the same statement. The check is a LATERAL
    subquery behind OFFSET 0 so that it stays one primary-key look-up per key row: a planner left to join the two
    itself misjudges how many rows a word pattern keeps and reads them all (a hash join, 110 ms for a common
    word)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.facility_id, k.name_rank, c.passed IS NOT NULL "  # noqa: S608 - constants and the caller's SQL
            f"FROM (SELECT facility_id, name_rank FROM {TABLE} WHERE dataset_id = %s AND key = %s "
            "AND name_rank > %s AND name_rank < %s ORDER BY name_rank LIMIT %s) k "
            f"LEFT JOIN LATERAL ({check} OFFSET 0) c(passed) ON true ORDER BY k.name_rank",
            [dataset_id, key, after_rank, below_rank if below_rank is not None else 2**31 - 1, size, *check_params],
        )
        return cursor.fetchall()


def word_starts(document: str, words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """SQL (and its parameters) that holds when every word starts a word of ``document`` (folded text: words
    of a-z and 0-9, one space apart, so a LIKE pattern of them has no wildcard of its own)."""
    return [f"(' ' || {document}) LIKE %s"] * len(words), [f"% {word}%" for word in words]


class _Values:
    """The distinct values of a column, sorted, and for each word after a value's first, the positions of the
    values holding it (increasing). The values that start with a query of several words are then found from its
    second word's positions inside its first word's range, not by testing every value of that range ("saint":
    17,000 of the benchmark's communes, 7 ms a search)."""

    def __init__(self, values):
        self.values = sorted(values)
        later: dict[str, list[int]] = {}
        for position, value in enumerate(self.values):
            for word in set(value.split()[1:]):
                later.setdefault(word, []).append(position)
        self.later = later
        self.words = sorted(later)

    def starting(self, words: tuple[str, ...]) -> Iterator[str]:
        start = bisect.bisect_left(self.values, words[0])
        end = bisect.bisect_left(self.values, words[0] + AFTER_WORDS, lo=start)
        positions: set[int] = set()
        at = bisect.bisect_left(self.words, words[1])
        while at < len(self.words) and self.words[at].startswith(words[1]):
            held = self.later[self.words[at]]
            positions.update(held[bisect.bisect_left(held, start) : bisect.bisect_left(held, end)])
            at += 1
        rest = re.compile("^" + ".* ".join(re.escape(word) for word in words))
        # Lazily: the caller reads values until it has rows enough ("le les": 6,500 values, of which 170 are read).
        return (self.values[at] for at in sorted(positions) if rest.match(self.values[at]))


def growing_chunks(values: Iterator[str], first: int = 8) -> Iterator[list[str]]:
    """``values`` a few at a time, each chunk four times the last: a tier reads the rows of the first values (often
    enough) and more only when they were not."""
    size = first
    while chunk := list(islice(values, size)):
        yield chunk
        size *= 4


def values_starting(dataset_id: int, table: str, column: str, words: tuple[str, ...]) -> Iterator[str]:
    """The distinct values of ``column`` in the dataset that start with the query of two words or more (its first
    word starts the value, the others start words after it, in order), in order, from values read once per
    process and dataset."""
    return column_values(dataset_id, table, column).starting(words)


@lru_cache(maxsize=_VALUES_KEPT)
def column_values(dataset_id: int, table: str, column: str) -> _Values:
    """The distinct values of ``column`` in the dataset, read once per process."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT {column} FROM {table} WHERE dataset_id = %s", [dataset_id])  # noqa: S608
        return _Values(row[0] for row in cursor.fetchall())
