"""SQLite's facility search in name order: an FTS5 table whose rowids follow the names.

SQLite has neither PostgreSQL's word-start keys nor its planner's index tricks, and the FTS5 table it had (rowid =
the facility's id, kept by triggers) found a common word's rows in id order: every one of them was read and sorted
before the first page ("le les": 30,000 rows, 55-110 ms; benchmarks/directory_search.py). So the import writes
each dataset's folded names and communes into ``directory_facility_ranked`` (FTS5, prefix indexes of 2 and 3
letters) with rowid = dataset id x 2^32 + the name's rank (keys.py ranks the names on both databases): FTS5 gives
its matches in rowid order, which is name order, so a LIMIT stops reading at the page's rows.

The tiers are PostgreSQL's (matching.py): the names that start with the query (one word: the ranks of the block of
names that start with it, from the name index; more: FTS5 inside that block), the communes that do (the commune
index, in commune then name order), then the other rows whose words start with the query's (FTS5 over the dataset).
Ordered otherwise (nearest first), one FTS5 query ranks the tiers and sorts, as before.
"""

from __future__ import annotations

from django.db import connection

from . import keys
from .hits import ids_of

TABLE = "directory_facility_ranked"
SPAN = 2**32  # rowids of one dataset: [dataset id x SPAN, (dataset id + 1) x SPAN)

_RANK = """
UPDATE directory_facility SET name_rank = r.name_rank
FROM (SELECT id, row_number() OVER (ORDER BY name_folded, id) AS name_rank
      FROM directory_facility WHERE dataset_id = %s) r
WHERE directory_facility.id = r.id
"""
_INSERT = f"""
INSERT INTO {TABLE} (rowid, name_folded, commune_folded)
SELECT %s + name_rank, name_folded, commune_folded FROM directory_facility WHERE dataset_id = %s
"""  # noqa: S608 - the table is a constant


def build(dataset_id: int) -> None:
    """Rank the dataset's names (bytewise, then id: PostgreSQL's COLLATE "C" order) and index them, then refresh
    the planner's statistics: without them SQLite may walk the name index to avoid a sort and filter every row."""
    with connection.cursor() as cursor:
        cursor.execute(_RANK, [dataset_id])
        cursor.execute(_INSERT, [dataset_id * SPAN, dataset_id])
        cursor.execute("ANALYZE directory_facility")


def delete(dataset_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        for dataset_id in dataset_ids:
            cursor.execute(f"DELETE FROM {TABLE} WHERE rowid >= %s AND rowid < %s",  # noqa: S608
                           [dataset_id * SPAN, (dataset_id + 1) * SPAN])  # fmt: skip


def _match(words) -> str:
    return " ".join(f'"{word}"*' for word in words)


def _matching(words, where: list[str], params: list, order: list[str], order_params: list, limit: int, *,
              ranks: tuple[int, int] | None = None) -> list[int]:  # fmt: skip
    """Ids of the facilities whose rowid in TABLE matches every word (as a word start) and ``where``; ``ranks``: only
    names strictly between these ranks. ``order`` empty: name order, read from FTS5 in rowid order (no sort)."""
    base = params[0] * SPAN  # matching.ranked_ids puts the dataset's id first
    low, high = ranks if ranks is not None else (0, SPAN)
    sql = (
        f"SELECT f.id FROM {TABLE} CROSS JOIN directory_facility f "  # noqa: S608 - constants
        f"WHERE {TABLE} MATCH %s AND {TABLE}.rowid > %s AND {TABLE}.rowid < %s "
        f"AND f.name_rank = {TABLE}.rowid - %s AND {' AND '.join(where)} "
        f"ORDER BY {', '.join(order) if order else f'{TABLE}.rowid'} LIMIT %s"
    )
    return ids_of(sql, [_match(words), base + low, base + high, base, *params, *order_params, limit])


def tiers(words: tuple[str, ...], where: list[str], params: list, limit: int) -> list[int]:
    """Ids in matching.py's ranking, in name order within each tier (within each commune, in the second)."""
    dataset_id = params[0]
    pattern = "% ".join(words) + "%"
    name_like, commune_like = "f.name_folded LIKE %s", "f.commune_folded LIKE %s"
    block = keys.name_block(dataset_id, words[0])
    ids: list[int] = []
    if block is not None and len(words) == 1:  # every name of the block starts with the word
        ids = ids_of(
            f"SELECT f.id FROM directory_facility f WHERE {' AND '.join(where)} "  # noqa: S608
            "AND f.name_rank BETWEEN %s AND %s ORDER BY f.name_rank LIMIT %s",
            [*params, *block, limit],
        )
    elif block is not None:
        ids = _matching(words, [*where, name_like], [*params, pattern], [], [], limit,
                        ranks=(block[0] - 1, block[1] + 1))  # fmt: skip
    if len(ids) < limit:
        ids += _commune_tier(words, [*where, f"NOT {name_like}"], [*params, pattern], limit - len(ids))
    if len(ids) < limit:
        ids += _matching(words, [*where, f"NOT {name_like}", f"NOT {commune_like}"], [*params, pattern, pattern],
                         [], [], limit - len(ids))  # fmt: skip
    return ids


def _commune_tier(words, where: list[str], params: list, limit: int) -> list[int]:
    """The rows whose commune starts with the query, by commune and then name (the commune index): one word, the
    index's range; more, the communes that start with the whole query (keys.values_starting), a few at a time."""
    order = "ORDER BY f.commune_folded, f.name_rank LIMIT %s"
    if len(words) == 1:
        return ids_of(
            f"SELECT f.id FROM directory_facility f WHERE {' AND '.join(where)} "  # noqa: S608
            f"AND f.commune_folded >= %s AND f.commune_folded < %s {order}",
            [*params, words[0], words[0] + keys.AFTER_WORDS, limit],
        )
    ids: list[int] = []
    chunks = keys.growing_chunks(keys.values_starting(params[0], "directory_facility", "commune_folded", words))
    while len(ids) < limit and (chunk := next(chunks, None)):
        ids += ids_of(
            f"SELECT f.id FROM directory_facility f WHERE {' AND '.join(where)} "  # noqa: S608
            f"AND f.commune_folded IN ({', '.join(['%s'] * len(chunk))}) {order}",
            [*params, *chunk, limit - len(ids)],
        )
    return ids


def any_order(words, where: list[str], params: list, order: list[str], order_params: list, limit: int) -> list[int]:
    """Ordered otherwise than by name (nearest first): the matches ranked by tier (name, commune by commune, the
    rest), then ``order``; every match is read and sorted (a circle keeps them few)."""
    pattern = "% ".join(words) + "%"
    tier = "CASE WHEN f.name_folded LIKE %s THEN 0 WHEN f.commune_folded LIKE %s THEN 1 ELSE 2 END"
    group = "CASE WHEN f.name_folded LIKE %s THEN '' WHEN f.commune_folded LIKE %s THEN f.commune_folded ELSE '' END"
    return _matching(words, where, params, [tier, group, *order, "f.id"], [pattern] * 4 + order_params, limit)
