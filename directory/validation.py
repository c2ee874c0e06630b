"""Checks on a loaded dataset before it may become current (duplicates and coordinates are checked as it loads)."""

from django.conf import settings

from .models import DirectoryImport


class ValidationFailure(Exception):
    pass


def validate(record: DirectoryImport, rows: int, current: DirectoryImport | None) -> None:
    if rows == 0:
        raise ValidationFailure("the file holds no records")
    if current is None or not current.rows:
        return
    tolerance = settings.DIRECTORY_IMPORT_TOLERANCE
    change = (rows - current.rows) / current.rows
    if abs(change) > tolerance:
        raise ValidationFailure(
            f"{rows:,} rows where the current data (import #{current.pk}) has {current.rows:,}: a change of"
            f" {change:+.0%}, beyond DIRECTORY_IMPORT_TOLERANCE ({tolerance:.0%})"
        )
