"""The OpenMedic yearly file published by the Assurance Maladie (ameli.fr, data.gouv.fr "Open Medic").

Layout (the publisher's "Descriptif Open Medic" and the SNDS documentation of OPEN_MEDIC): one header
line, Windows-1252, ";" separated, decimal comma. Columns:
ATC1;l_ATC1;ATC2;L_ATC2;ATC3;L_ATC3;ATC4;L_ATC4;ATC5;L_ATC5;CIP13;l_cip13;TOP_GEN;GEN_NUM;age;sexe;
BEN_REG;PSP_SPE;BOITES;REM;BSE. Each row is an aggregate for one CIP13 x age group x sex x region x
prescriber speciality; BOITES is the number of boxes, REM the amount reimbursed and BSE the
reimbursement base, in euros. The year is not in the file: it is in its name (OPEN_MEDIC_2024.CSV).
The file is published zipped (OPEN_MEDIC_2024.zip holding the CSV): both are read.
"""

import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from .errors import FormatError, looks_like
from .lines import decoded_lines

ENCODING = "cp1252"
COLUMNS = (
    "ATC1", "l_ATC1", "ATC2", "L_ATC2", "ATC3", "L_ATC3", "ATC4", "L_ATC4", "ATC5", "L_ATC5", "CIP13", "l_cip13",
    "TOP_GEN", "GEN_NUM", "age", "sexe", "BEN_REG", "PSP_SPE", "BOITES", "REM", "BSE",
)
# What the directory keeps; age, sex, region and prescriber are summed over.
REQUIRED = (
    "ATC1", "L_ATC1", "ATC2", "L_ATC2", "ATC3", "L_ATC3", "ATC4", "L_ATC4", "ATC5", "L_ATC5", "CIP13", "L_CIP13",
    "TOP_GEN", "GEN_NUM", "BOITES", "REM", "BSE",
)
_CIP13 = re.compile(r"^\d{13}$")
_YEAR = re.compile(r"OPEN_MEDIC_(\d{4})", re.IGNORECASE)
ZIP_MAGIC = b"PK\x03\x04"


def year_from_name(name: str) -> int | None:
    match = _YEAR.search(name or "")
    return int(match.group(1)) if match else None


def open_csv(stream: BinaryIO) -> BinaryIO:
    """The CSV itself: the stream, or the one .CSV member of a zip archive (read as it is decompressed)."""
    head = stream.read(4)
    stream.seek(0)
    if head != ZIP_MAGIC:
        return stream
    try:
        archive = zipfile.ZipFile(stream)
        members = [info for info in archive.infolist() if info.filename.lower().endswith(".csv")]
    except (zipfile.BadZipFile, OSError) as error:
        raise FormatError(f"the zip archive is damaged or truncated ({error})") from None
    if len(members) != 1:
        raise FormatError(f"the zip archive holds {len(members)} .csv files; an OpenMedic archive holds one")
    return archive.open(members[0])


def header_positions(number: int, line: str) -> dict[str, int]:
    names = [name.strip().upper() for name in line.split(";")]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise FormatError(
            f"line {number}: the header lacks the OpenMedic column(s) {', '.join(missing)}; the line begins"
            f" {line[:40]!r}, which is {looks_like(line)}"
        )
    return {name: index for index, name in enumerate(names)}


def _decimal(number: int, name: str, value: str) -> Decimal:
    try:
        return Decimal(value.replace(",", ".") if value.strip() else "0")
    except InvalidOperation:
        raise FormatError(f"line {number}: {name} {value[:20]!r} is not a number") from None


def _integer(number: int, name: str, value: str) -> int:
    if value.isascii() and value.isdigit():
        return int(value)
    amount = _decimal(number, name, value)
    if amount != amount.to_integral_value():
        raise FormatError(f"line {number}: {name} {value[:20]!r} is not a whole number")
    return int(amount)


class Row:
    """One row: CIP13, BOITES, REM and BSE read at once (they are needed for every row); the other columns,
    by upper-case name, only when asked for (once per medicine): most of a 2 M-row file's time was there."""

    __slots__ = ("_fields", "_positions", "values")

    def __init__(self, fields: list[str], positions: dict[str, int], values: dict):
        self._fields, self._positions, self.values = fields, positions, values

    def __getitem__(self, name: str):
        if name in self.values:
            return self.values[name]
        return self._fields[self._positions[name]].strip()


def read(stream: BinaryIO) -> Iterator[tuple[int, Row]]:
    """(line number, Row: columns by upper-case name; BOITES, REM and BSE already numbers). Streams."""
    lines = decoded_lines(open_csv(stream), ENCODING)
    first = next(lines, None)
    if first is None:
        raise FormatError("the file is empty")
    positions = header_positions(*first[:2])
    width = len(positions)
    cip13, boxes, reimbursed, base = (positions[name] for name in ("CIP13", "BOITES", "REM", "BSE"))
    for number, line, had_end in lines:
        if not line.strip():
            continue
        fields = line.split(";")
        if len(fields) != width:
            truncated = " The file ends in the middle of this row: truncated?" if not had_end else ""
            raise FormatError(f"line {number}: {len(fields)} fields where the header names {width}.{truncated}")
        code = fields[cip13].strip()
        if not _CIP13.match(code):
            raise FormatError(f"line {number}: CIP13 {code[:20]!r} is not a 13-digit code")
        values = {
            "CIP13": code,
            "BOITES": _integer(number, "BOITES", fields[boxes]),
            "REM": _decimal(number, "REM", fields[reimbursed]),
            "BSE": _decimal(number, "BSE", fields[base]),
        }
        yield number, Row(fields, positions, values)
