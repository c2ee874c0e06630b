"""Loading an OpenMedic yearly file into a dataset: its rows summed per CIP13, then inserted in batches.

Memory is bounded by the number of distinct medicines (CIP13 codes: about 15 000 in a real year), not
by the number of rows (about 2 million, one per CIP13 x age x sex x region x prescriber speciality).
"""

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError

from .facilities import LoadResult
from .formats import openmedic
from .formats.errors import FormatError
from .models import DirectoryImport, Medicine
from .text import fold

_LEVELS = ("ATC1", "ATC2", "ATC3", "ATC4", "ATC5")


def _medicine(dataset: DirectoryImport, year: int, row: dict) -> Medicine:
    levels = {}
    for level in _LEVELS:
        levels[level.lower()] = row[level]
        levels[f"{level.lower()}_label"] = row[f"L_{level}"]
    return Medicine(
        dataset=dataset,
        cip13=row["CIP13"],
        name=row["L_CIP13"],
        generic_group="" if row["GEN_NUM"] in ("", "0") else row["GEN_NUM"],
        generic_status=row["TOP_GEN"],
        year=year,
        boxes=0,
        reimbursed_amount=Decimal(0),
        base_amount=Decimal(0),
        name_folded=fold(row["L_CIP13"]),
        **levels,
    )


def load(dataset: DirectoryImport, path: str, year: int, report: Callable[[int, int], None]) -> LoadResult:
    """Parse, sum per CIP13 and insert; report(bytes read, line number) as it goes."""
    medicines: dict[str, Medicine] = {}
    rows = 0
    with open(path, "rb") as raw:
        for number, row in openmedic.read(raw):
            medicine = medicines.get(row["CIP13"])
            if medicine is None:
                medicine = medicines[row["CIP13"]] = _medicine(dataset, year, row)
            medicine.boxes += row["BOITES"]
            medicine.reimbursed_amount += row["REM"]
            medicine.base_amount += row["BSE"]
            rows = number - 1
            if number % 5000 == 0:
                report(raw.tell(), number)
    try:
        Medicine.objects.bulk_create(medicines.values(), batch_size=settings.DIRECTORY_BATCH_SIZE)
    except IntegrityError as error:  # the dict has one entry per CIP13: only a bug would get here
        raise FormatError(f"duplicate CIP13 codes in the dataset ({error})") from None
    return LoadResult(rows=len(medicines), notes=[f"{rows} rows of the file summed into {len(medicines)} medicines"])
