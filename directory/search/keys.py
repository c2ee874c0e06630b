"""Word-start keys: PostgreSQL's ordered answer to "a word of this facility's name or commune starts with ...".

The full-text index finds such rows but not in name order, so a word that many names contain ("le", "saint",
"hospitalier": tens of thousands of the 100,000 establishments) had all its rows read and sorted before the first
page: 20-75 ms each (benchmarks/directory_search.py). Walking the name index and filtering instead is fast only
when the matching names are spread evenly, and they are not: "hospitalier" sits inside "centre hospitalier ...",
so a walk from "a" reads every name before "centre h" first.

So the import writes, for each establishment and each word of its folded name and commune, the word's first 2,
3, 5 and 8 letters (as many of those as the word has) with the establishment's rank in name order:
``directory_facility_key (dataset_id, key, name_rank, facility_id)``, indexed on (dataset_id, key, name_rank).
A query word of n letters (n >= 2) reads the key of its longest length <= n: the index gives those rows in
name order, so reading stops at the limit, and each row is checked against the whole query (its other words,
and the letters past the key's) on the establishment's own row. About 19 keys per establishment: 1.9 M rows
(about 180 MB) for 100,000 establishments, built in SQL in about 25 s of the import (README, "Reference
directory").

SQLite keeps its FTS5 table (matching.py): the embedded default's directories are small.
"""

from __future__ import annotations

import bisect
import re

from django.db import connection

TABLE = "directory_facility_key"
KEY_LENGTHS = (2, 3, 5, 8)
# A query word found in at most this many rows takes the full-text index and a sort instead (a few ms), and so
# does a word longer than its key whose own letters nothing holds (a typo): its key's rows would all be read
# and refused.
FEW = 2000
# Key rows read in name order before the rest of the query is left to the full-text index (matching.py): many
# rows hold the key and few of them the whole query ("montbeliard sur").
WALK = 2048
FIRST_BATCH = 128  # rows of the first batch read; each next one four times more, up to WALK in all
_VALUES_KEPT = 4
_values: dict[tuple[str, str, int], list[str]] = {}

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


def build(dataset_id: int) -> None:
    """Write the keys of one imported dataset (PostgreSQL; before it becomes current), then refresh the
    planner's statistics of the key table, which has just grown by millions of rows."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(_RANK, [dataset_id])
        cursor.execute(_BUILD, [list(KEY_LENGTHS), dataset_id])
        # VACUUM also marks the new rows all-visible, so that the key index is read without the table; it cannot
        # run inside a transaction (a test's), where ANALYZE does the rest.
        cursor.execute(f"ANALYZE {TABLE}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {TABLE}")


def delete(dataset_ids: list[int]) -> None:
    if connection.vendor != "postgresql" or not dataset_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE dataset_id = ANY(%s)", [list(dataset_ids)])  # noqa: S608


def key_of(word: str) -> str | None:
    """The key a query word reads: its first k letters for the largest key length k it has; None for a word of
    one letter (no key is that short: such a query takes the full-text path)."""
    lengths = [length for length in KEY_LENGTHS if length <= len(word)]
    return word[: lengths[-1]] if lengths else None


def usable(words: tuple[str, ...]) -> bool:
    return connection.vendor == "postgresql" and bool(words) and all(key_of(word) for word in words)


def read(dataset_id: int, key: str, after_rank: int, size: int, below_rank: int | None = None) -> list[tuple[int, int]]:
    """(facility id, name rank) of up to ``size`` rows holding ``key``, after ``after_rank`` (and before
    ``below_rank``, when given) in name order, from the key index alone. matching._walk checks each batch against
    the rest of the query on the facilities' rows (one query by primary keys): a planner left to join the two
    itself misjudges how many rows a word pattern keeps and reads them all (a hash join, 110 ms for a common
    word)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT facility_id, name_rank FROM {TABLE} WHERE dataset_id = %s AND key = %s "  # noqa: S608
            "AND name_rank > %s AND name_rank < %s ORDER BY name_rank LIMIT %s",
            [dataset_id, key, after_rank, below_rank if below_rank is not None else 2**31 - 1, size],
        )
        return cursor.fetchall()


def word_starts(document: str, words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """SQL (and its parameters) that holds when every word starts a word of ``document`` (folded text: words
    of a-z and 0-9, one space apart, so a LIKE pattern of them has no wildcard of its own)."""
    return [f"(' ' || {document}) LIKE %s"] * len(words), [f"% {word}%" for word in words]


def values_starting(dataset_id: int, table: str, column: str, words: tuple[str, ...]) -> list[str]:
    """The distinct values of ``column`` in the dataset that start with the query (its first word starts the
    value, the others start words after it, in order), from a sorted list read once per process and dataset."""
    key = (table, column, dataset_id)
    if key not in _values:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT {column} FROM {table} WHERE dataset_id = %s",  # noqa: S608 - constants
                [dataset_id],
            )
            found = sorted(row[0] for row in cursor.fetchall())
        while len(_values) >= _VALUES_KEPT:
            _values.pop(next(iter(_values)))
        _values[key] = found
    values = _values[key]
    start = bisect.bisect_left(values, words[0])
    end = bisect.bisect_left(values, words[0] + "\x7f", lo=start)
    rest = re.compile("^" + ".* ".join(re.escape(word) for word in words))
    return [value for value in values[start:end] if rest.match(value)]
