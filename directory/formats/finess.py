"""The FINESS establishment extraction published by the DREES on data.gouv.fr ("etalab-cs1100507-stock").

Layout (data.gouv.fr, "FINESS Extraction du Fichier des établissements", description of the
extraction): no header line, Windows-1252, fields separated by ";", no quoting. The first line
identifies the file: "finess;etalab;<number>;<extraction date>". Then two record types, told apart by
their first field: `structureet` (one establishment, 32 fields) and `geolocalisation` (its coordinates,
6 fields), joined on the establishment's FINESS number (nofinesset).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import FormatError, looks_like
from .lines import decoded_lines

ENCODING = "cp1252"
IDENTIFICATION = ("finess", "etalab")
STRUCTURE_FIELDS = (
    "structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib", "numvoie", "typvoie",
    "voie", "compvoie", "lieuditbp", "commune", "departement", "libdepartement", "ligneacheminement", "telephone",
    "telecopie", "categetab", "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft",
    "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
)
GEOLOCATION_FIELDS = ("geolocalisation", "nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj")
RECORD_FIELDS = {"structureet": STRUCTURE_FIELDS, "geolocalisation": GEOLOCATION_FIELDS}
_FINESS_NUMBER = re.compile(r"^[0-9A-Z]{9}$")


@dataclass(frozen=True)
class Geolocation:
    finess: str
    x: float
    y: float
    system: str  # the `sourcecoordet` value, which names the coordinate system last


def check_identification(first_line: str) -> None:
    fields = first_line.split(";")
    if tuple(field.strip().lower() for field in fields[:2]) != IDENTIFICATION:
        raise FormatError(
            "line 1 is not the FINESS identification line ('finess;etalab;<number>;<date>'): it begins "
            f"{first_line[:40]!r}, which is {looks_like(first_line)}"
        )


def _fields(number: int, line: str, had_end: bool) -> tuple[str, list[str]]:
    fields = line.split(";")
    kind = fields[0]
    expected = RECORD_FIELDS.get(kind)
    if expected is None:
        raise FormatError(
            f"line {number}: unknown record type {kind[:30]!r} (a FINESS extraction has only 'structureet' and"
            f" 'geolocalisation' records); the line is {looks_like(line)}"
        )
    if len(fields) != len(expected):
        truncated = " The file ends in the middle of this record: truncated?" if not had_end else ""
        raise FormatError(
            f"line {number}: a '{kind}' record has {len(expected)} fields, this one has {len(fields)}.{truncated}"
        )
    if not _FINESS_NUMBER.match(fields[1]):
        raise FormatError(f"line {number}: {fields[1][:20]!r} is not a FINESS number (9 characters)")
    return kind, fields


def _number(number: int, name: str, value: str) -> float:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise FormatError(f"line {number}: {name} {value[:20]!r} is not a number") from None


def read(stream: BinaryIO) -> Iterator[tuple[int, dict | Geolocation]]:
    """(line number, record): a dict of a `structureet` record's fields, or a Geolocation. Streams."""
    lines = decoded_lines(stream, ENCODING)
    first = next(lines, None)
    if first is None:
        raise FormatError("the file is empty")
    check_identification(first[1])
    for number, line, had_end in lines:
        if not line.strip():
            continue
        kind, fields = _fields(number, line, had_end)
        if kind == "structureet":
            yield number, dict(zip(STRUCTURE_FIELDS, (field.strip() for field in fields), strict=True))
        elif fields[2].strip() and fields[3].strip():
            x = _number(number, "coordxet", fields[2].strip())
            y = _number(number, "coordyet", fields[3].strip())
            yield number, Geolocation(finess=fields[1], x=x, y=y, system=fields[4].strip())
