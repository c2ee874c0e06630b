"""Medicine search: words of the name and ATC code prefixes; within a tier, the presentations dispensed
most (boxes reimbursed in the year) first."""

from __future__ import annotations

from directory.models import Medicine, Source

from . import cache
from .hits import MAX_RESULTS, Hits, current_dataset, in_order
from .matching import Conditions, Table, ranked_ids, text_order
from .params import MedicineQuery

MEDICINES = Table(
    name="directory_medicine",
    fts="directory_medicine_fts",
    document="(f.name_folded)",
    prefix_columns=("name_folded",),
)
# What a page of results shows of each medicine (the API's fields, and the portal's): rows() reads only these.
FIELDS = [
    "cip13", "name", "atc1", "atc1_label", "atc2", "atc2_label", "atc3", "atc3_label", "atc4", "atc4_label", "atc5",
    "atc5_label", "generic_group", "generic_status", "year", "boxes", "reimbursed_amount", "base_amount",
]  # fmt: skip


def _conditions(query: MedicineQuery) -> Conditions:
    conditions = Conditions()
    if query.atc:
        # ATC codes are A-Z and 0-9 (params.py checks), so a prefix is a plain LIKE pattern.
        conditions.add(
            "(" + " OR ".join(["f.atc5 LIKE %s"] * len(query.atc)) + ")", *(code + "%" for code in query.atc)
        )
    conditions.order.extend(["f.boxes DESC", text_order("f.name_folded")])
    return conditions


def ranked(query: MedicineQuery, dataset_id: int) -> list[int]:
    """The database's answer (no cache), as facilities.ranked."""
    return ranked_ids(
        MEDICINES, dataset_id=dataset_id, words=query.words, conditions=_conditions(query), limit=MAX_RESULTS + 1
    )


def search(query: MedicineQuery) -> Hits:
    dataset_id = current_dataset(Source.OPENMEDIC)
    if dataset_id is None:
        return Hits(None, (), False)
    return Hits.of(dataset_id, cache.remembered("medicines", dataset_id, query, lambda: ranked(query, dataset_id)))


def rows(ids) -> list[dict]:
    """The medicines of ``ids`` (a page of a search's hits) as dicts of FIELDS."""
    return in_order(Medicine, ids, FIELDS)
