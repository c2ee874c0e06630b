"""What a search returns: the ranked ids of one dataset (cached), and the rows of one page of them."""

from __future__ import annotations

from dataclasses import dataclass

from directory.models import DirectorySource

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
    """The import readers see now for ``source`` (one indexed read: never cached, so a swap shows at once)."""
    return DirectorySource.objects.filter(source=source).values_list("current_id", flat=True).first()


def in_order(model, ids) -> list:
    """The rows of ``ids`` in that order (one query)."""
    rows = model.objects.in_bulk(list(ids))
    return [rows[pk] for pk in ids if pk in rows]
