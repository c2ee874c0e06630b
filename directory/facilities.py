"""Loading a FINESS extraction into a dataset: establishments in batches, then their coordinates.

Memory stays bounded whatever the file's size: establishments are inserted a batch at a time, and each
batch of geolocalisation records updates the rows already inserted (one UPDATE ... FROM a VALUES list,
which SQLite >= 3.33 and PostgreSQL both run), instead of holding one record type to join the other.
"""

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from .formats import finess
from .formats.errors import FormatError
from .geo import CoordinateError, system_of, to_wgs84_many
from .models import DirectoryImport, Facility
from .regions import OVERSEAS_DEPARTMENTS, region_of
from .text import fold_for_index

_CEDEX = re.compile(r"\s+CEDEX(\s+\d+)?$", re.IGNORECASE)


@dataclass
class LoadResult:
    rows: int = 0
    notes: list[str] = field(default_factory=list)


def _place(record: dict) -> dict:
    department = OVERSEAS_DEPARTMENTS.get(record["departement"], record["departement"])
    postcode, _, commune = record["ligneacheminement"].partition(" ")
    if not postcode.isdigit():
        postcode, commune = "", record["ligneacheminement"]
    commune = _CEDEX.sub("", commune).strip()
    prefix = "97" if department.startswith("97") else record["departement"]
    region_code, region_label = region_of(department)
    return {
        "postcode": postcode,
        "commune": commune,
        "commune_code": prefix + record["commune"] if record["commune"] else "",
        "department_code": department,
        "department_label": record["libdepartement"],
        "region_code": region_code,
        "region_label": region_label,
        "commune_folded": fold_for_index(commune),
    }


def facility_from(dataset: DirectoryImport, record: dict) -> Facility:
    street_parts = (record["numvoie"], record["typvoie"], record["voie"], record["compvoie"])
    street = " ".join(part for part in street_parts if part)
    names = [record["rs"]] + ([record["rslongue"]] if record["rslongue"] and record["rslongue"] != record["rs"] else [])
    return Facility(
        dataset=dataset,
        finess=record["nofinesset"],
        finess_legal=record["nofinessej"],
        name=record["rs"],
        long_name=record["rslongue"],
        category_code=record["categetab"],
        category_label=record["libcategetab"],
        category_group_code=record["categagretab"],
        category_group_label=record["libcategagretab"],
        address=", ".join(part for part in (street, record["lieuditbp"], record["compldistrib"]) if part),
        phone=record["telephone"],
        services=[],  # the establishment extraction lists no services or activities
        name_folded=fold_for_index(" ".join(names))[:520],
        **_place(record),
    )


def _copy(rows: list[Facility]) -> None:
    """PostgreSQL: COPY the batch in (benchmarks/directory_import.py: bulk_create's INSERTs were about 40 % of a
    FINESS import there). Errors are Django's (an IntegrityError for a duplicate FINESS number)."""
    fields = [field for field in Facility._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {Facility._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(field, row) for field in fields])


def _copy_value(field, row: Facility):
    value = getattr(row, field.attname)
    return json.dumps(value) if field.get_internal_type() == "JSONField" else value


class _Batches:
    def __init__(self, dataset: DirectoryImport):
        self.dataset = dataset
        self.size = settings.DIRECTORY_BATCH_SIZE
        self.facilities: list[tuple[int, Facility]] = []
        # (line number, the record, its system's short name and EPSG code or None): converted when flushed.
        self.points: list[tuple[int, finess.Geolocation, str, int | None]] = []
        self.result = LoadResult()
        self.located = self.unplaced = self.unknown_system = 0

    def add_facility(self, number: int, facility: Facility) -> None:
        self.facilities.append((number, facility))
        if len(self.facilities) >= self.size:
            self.flush_facilities()

    def add_point(self, number: int, point: finess.Geolocation) -> None:
        system = system_of(point.system)
        if system is None:
            self.unknown_system += 1
            self.points.append((number, point, point.system.rsplit(",", 1)[-1].strip()[:40], None))
        else:
            self.points.append((number, point, *system))
        if len(self.points) >= self.size:
            self.flush_points()

    def flush_facilities(self) -> None:
        if not self.facilities:
            return
        try:
            with transaction.atomic():  # a savepoint: the duplicate query below runs even inside a transaction
                if connection.vendor == "postgresql":
                    _copy([facility for _, facility in self.facilities])
                else:
                    Facility.objects.bulk_create([facility for _, facility in self.facilities])
        except IntegrityError:
            raise FormatError(self._duplicate_reason()) from None
        self.result.rows += len(self.facilities)
        self.facilities = []

    def _duplicate_reason(self) -> str:
        counts = Counter(facility.finess for _, facility in self.facilities)
        repeated = [finess_number for finess_number, count in counts.items() if count > 1]
        repeated += Facility.objects.filter(
            dataset=self.dataset, finess__in=[facility.finess for _, facility in self.facilities]
        ).values_list("finess", flat=True)
        lines = [str(number) for number, facility in self.facilities if facility.finess in set(repeated)]
        return f"duplicate FINESS numbers {', '.join(sorted(set(repeated))[:5])} (lines {', '.join(lines[:5])})"

    def _converted(self) -> list[tuple[str, float | None, float | None, str]]:
        """(FINESS number, latitude, longitude, system) of the pending points: pyproj converts each system's at once."""
        positions: dict[int, tuple[float, float]] = {}
        for code in {code for *_, code in self.points if code is not None}:
            indexes = [index for index, (*_, point_code) in enumerate(self.points) if point_code == code]
            xs, ys = [self.points[i][1].x for i in indexes], [self.points[i][1].y for i in indexes]
            try:
                converted = to_wgs84_many(xs, ys, code)
            except CoordinateError as error:
                number, point = self.points[indexes[error.index]][:2]
                raise FormatError(f"line {number}: FINESS {point.finess}: coordinates {error}") from None
            positions.update(zip(indexes, converted, strict=True))
        return [
            (point.finess, *positions.get(index, (None, None)), name)
            for index, (_, point, name, _) in enumerate(self.points)
        ]

    def flush_points(self) -> None:
        # Establishments first: a geolocalisation record may follow its establishment in the same batch.
        self.flush_facilities()
        if not self.points:
            return
        values = self._converted()
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(values))
        table = Facility._meta.db_table
        # VALUES columns are column1..column4 on both databases; the statement begins with UPDATE so that
        # Python's sqlite3 reports its row count (it does not for a statement beginning with WITH).
        sql = (
            f"UPDATE {table} SET latitude = CAST(v.column2 AS double precision),"  # noqa: S608 (no input in it)
            " longitude = CAST(v.column3 AS double precision), coordinate_source = v.column4"
            f" FROM (VALUES {rows}) AS v WHERE {table}.dataset_id = %s AND {table}.finess = v.column1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for point in values for value in point] + [self.dataset.pk])
            updated = cursor.rowcount
        self.located += updated
        self.unplaced += len(self.points) - updated
        self.points = []

    def finish(self) -> LoadResult:
        self.flush_points()
        self.flush_facilities()
        if self.unknown_system:
            self.result.notes.append(f"{self.unknown_system} geolocalisation records named no known coordinate system")
        if self.unplaced:
            self.result.notes.append(f"{self.unplaced} geolocalisation records named no establishment of the file")
        self.result.notes.append(f"{self.located} of {self.result.rows} establishments located")
        return self.result


def load(dataset: DirectoryImport, path: str, report: Callable[[int, int], None]) -> LoadResult:
    """Parse and insert; report(bytes read, line number) as it goes. FormatError names what is wrong."""
    batches = _Batches(dataset)
    with open(path, "rb") as raw:
        for number, record in finess.read(raw):
            if isinstance(record, dict):
                batches.add_facility(number, facility_from(dataset, record))
            else:
                batches.add_point(number, record)
            if number % 1000 == 0:
                report(raw.tell(), number)
    return batches.finish()
