"""What a search returns: the ranked ids of one dataset (cached), and the rows of one page of them."""

from __future__ import annotations

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


def in_order(model, ids, fields: list[str]) -> list[dict]:
    """The rows of ``ids`` in that order (one query), each a dict of ``fields``: a page of results is read to be
    shown, and model instances of 50 rows of 20 columns cost more than the query (benchmarks/directory_search.py)."""
    found = {row["id"]: row for row in model.objects.filter(pk__in=list(ids)).values("id", *fields)}
    return [found[pk] for pk in ids if pk in found]
