"""Directory data made by a search test: an import of the given rows, made current as the import's swap
makes it (the source's ``current`` moves to it, the old one becomes ``previous``). The rows are written
here, in the test, not by the importer or the sample generator: search is checked against known inputs."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from directory.models import DirectoryImport, DirectorySource, Facility, Medicine, Source
from directory.search import keys
from directory.text import fold, fold_for_index

FACILITY_DEFAULTS = {"category_code": "355", "category_label": "Centre Hospitalier (C.H.)", "department_code": "42"}


def _swap(source: str, dataset: DirectoryImport) -> None:
    state, _created = DirectorySource.objects.get_or_create(source=source)
    state.previous, state.current = state.current, dataset
    state.save()


@transaction.atomic
def load_facilities(*rows: dict) -> DirectoryImport:
    """``rows``: dicts of Facility fields (name and commune at least); finess numbers are made up if missing."""
    dataset = DirectoryImport.objects.create(source=Source.FINESS, status=DirectoryImport.Status.SUCCEEDED)
    facilities = []
    for number, row in enumerate(rows, start=1):
        fields = {**FACILITY_DEFAULTS, "finess": f"{number:09d}", **row}
        fields["name_folded"] = fold_for_index(" ".join(filter(None, [fields["name"], fields.get("long_name", "")])))
        fields["commune_folded"] = fold_for_index(fields.get("commune", ""))
        facilities.append(Facility(dataset=dataset, **fields))
    Facility.objects.bulk_create(facilities)
    dataset.rows = len(facilities)
    dataset.save(update_fields=["rows"])
    keys.build(dataset.pk)  # as the import does before its swap (PostgreSQL; nothing on SQLite)
    _swap(Source.FINESS, dataset)
    return dataset


@transaction.atomic
def load_medicines(*rows: dict) -> DirectoryImport:
    """``rows``: dicts of Medicine fields (name, atc5 at least); the ATC levels are cut from atc5."""
    dataset = DirectoryImport.objects.create(source=Source.OPENMEDIC, status=DirectoryImport.Status.SUCCEEDED)
    medicines = []
    for number, row in enumerate(rows, start=1):
        atc = row["atc5"]
        fields = {
            "cip13": f"340093{number:07d}", "year": 2024, "boxes": 0, "reimbursed_amount": Decimal("0"),
            "atc1": atc[:1], "atc2": atc[:3], "atc3": atc[:4], "atc4": atc[:5], **row,
        }
        fields["name_folded"] = fold(fields["name"])
        medicines.append(Medicine(dataset=dataset, **fields))
    Medicine.objects.bulk_create(medicines)
    _swap(Source.OPENMEDIC, dataset)
    return dataset
