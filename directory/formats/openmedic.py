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
        return Decimal(value.strip().replace(",", ".") or "0")
    except InvalidOperation:
        raise FormatError(f"line {number}: {name} {value[:20]!r} is not a number") from None


def _integer(number: int, name: str, value: str) -> int:
    amount = _decimal(number, name, value)
    if amount != amount.to_integral_value():
        raise FormatError(f"line {number}: {name} {value[:20]!r} is not a whole number")
    return int(amount)


def read(stream: BinaryIO) -> Iterator[tuple[int, dict]]:
    """(line number, row as a dict of upper-case column names); BOITES, REM and BSE already numbers. Streams."""
    lines = decoded_lines(open_csv(stream), ENCODING)
    first = next(lines, None)
    if first is None:
        raise FormatError("the file is empty")
    positions = header_positions(*first[:2])
    width = len(positions)
    for number, line, had_end in lines:
        if not line.strip():
            continue
        fields = line.split(";")
        if len(fields) != width:
            truncated = " The file ends in the middle of this row: truncated?" if not had_end else ""
            raise FormatError(f"line {number}: {len(fields)} fields where the header names {width}.{truncated}")
        row = {name: fields[index].strip() for name, index in positions.items()}
        if not _CIP13.match(row["CIP13"]):
            raise FormatError(f"line {number}: CIP13 {row['CIP13'][:20]!r} is not a 13-digit code")
        row["BOITES"] = _integer(number, "BOITES", row["BOITES"])
        row["REM"] = _decimal(number, "REM", row["REM"])
        row["BSE"] = _decimal(number, "BSE", row["BSE"])
        yield number, row
