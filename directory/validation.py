"""Checks on a loaded dataset before it may become current (duplicates and coordinates are checked as it loads)."""

from django.conf import settings
from django.db.models import Exists, OuterRef

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


def differences(model, key: str, dataset: DirectoryImport, current: DirectoryImport | None) -> str:
    """"N added, M removed since import #K": keys (FINESS numbers, CIP13 codes) in one dataset and not the other."""
    if current is None:
        return ""

    def only_in(first, second) -> int:
        other = model.objects.filter(dataset=second, **{key: OuterRef(key)})
        return model.objects.filter(dataset=first).filter(~Exists(other)).count()

    return f"{only_in(dataset, current):,} added, {only_in(current, dataset):,} removed since import #{current.pk}"
