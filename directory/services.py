"""Import and roll back the reference directory: the only writes to its tables.

run_import: take a file or download one -> verify (size limit, checksum, identification line or
header, required columns) -> stream-parse and load into a new dataset in batches -> validate -> swap
(the source's `current` becomes this dataset, the old current its `previous`) in one transaction with
its audit event -> delete datasets older than `previous` and the downloaded file. A file with the current
data's checksum changes nothing (status no_change). Any failure deletes the partial dataset, leaves the
current data as it was and records the reason.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

import audit

from . import facilities, medicines
from .fetch import FetchError, download, measure
from .formats.errors import FormatError
from .formats.openmedic import year_from_name
from .models import DirectoryImport, DirectorySource, Facility, Medicine, Source
from .search import keys as search_keys
from .search import spelling
from .search.facilities import FACILITIES
from .search.medicines import MEDICINES
from .validation import ValidationFailure, differences, validate

logger = logging.getLogger(__name__)
ROW_MODELS = {Source.FINESS: Facility, Source.OPENMEDIC: Medicine}
SEARCHED = {Source.FINESS: FACILITIES, Source.OPENMEDIC: MEDICINES}  # the search table of each source
Progress = Callable[[int, str], None]


class ImportRefused(Exception):
    """The import was not started (a clinic user, nothing to roll back to): nothing was recorded."""


@dataclass(frozen=True)
class ImportRequest:
    source: str
    file: Path | None = None
    url: str = ""
    year: int | None = None


def check_may_import(actor) -> None:
    """Only platform admins (staff or superusers) import; None is the system (the command, beat)."""
    if actor is None:
        return
    if not (getattr(actor, "is_active", False) and (actor.is_staff or actor.is_superuser)):
        raise PermissionDenied("Only platform administrators import or roll back the reference directory.")


class _Run:
    """One import's record and its progress reports (throttled: one write per whole percent)."""

    def __init__(self, record: DirectoryImport, on_progress: Progress | None):
        self.record = record
        self.on_progress = on_progress
        self.started = time.monotonic()

    def step(self, name: str, percent: int) -> None:
        self.record.step, self.record.progress = name, percent
        DirectoryImport.objects.filter(pk=self.record.pk).update(step=name, progress=percent)
        if self.on_progress:
            self.on_progress(percent, name)

    def reader(self, size: int) -> Callable[[int, int], None]:
        def report(position: int, _line: int) -> None:
            percent = 10 + int(80 * min(position, size) / max(size, 1))
            if percent != self.record.progress:
                self.step("load", percent)

        return report

    def finish(self, status: str, reason: str, **fields) -> DirectoryImport:
        record = self.record
        record.status, record.reason, record.finished_at = status, reason[:4000], timezone.now()
        record.duration_ms = int((time.monotonic() - self.started) * 1000)
        for name, value in fields.items():
            setattr(record, name, value)
        record.save()
        return record


def _load(run: _Run, request: ImportRequest, path: Path, size: int):
    if request.source == Source.FINESS:
        return facilities.load(run.record, str(path), run.reader(size))
    year = request.year or year_from_name(request.url or (request.file.name if request.file else ""))
    if year is None:
        raise FormatError("the OpenMedic year is not in the file's name (OPEN_MEDIC_<year>.CSV): give --year")
    return medicines.load(run.record, str(path), year, run.reader(size))


def _swap(record: DirectoryImport, actor, expected_current_id: int | None) -> list[int]:
    """Make `record` current; returns the ids of datasets now older than `previous` (to delete)."""
    with transaction.atomic():
        DirectorySource.objects.get_or_create(source=record.source)
        source = DirectorySource.objects.select_for_update().get(source=record.source)
        if source.current_id != expected_current_id:
            raise ValidationFailure("another import replaced the current data while this one ran; run it again")
        source.previous_id, source.current_id = source.current_id, record.pk
        source.save(update_fields=["previous", "current", "updated_at"])
        record.status, record.progress, record.step = DirectoryImport.Status.SUCCEEDED, 100, "done"
        # rows with the status: the next import's tolerance check reads them, even if this process stops now.
        record.save(update_fields=["status", "progress", "step", "rows", "reason"])
        audit.record(
            action="directory.imported",
            actor=actor,
            target=record,
            details={"source": record.source, "rows": record.rows, "checksum": record.checksum},
        )
        keep = {source.current_id, source.previous_id}
    return list(
        DirectoryImport.objects.filter(source=record.source, status__in=["succeeded", "rolled_back"])
        .exclude(pk__in=keep)
        .values_list("pk", flat=True)
    )


def _delete_rows(source: str, dataset_ids: list[int]) -> None:
    if dataset_ids:
        if source == Source.FINESS:
            search_keys.delete(dataset_ids)
        ROW_MODELS[source].objects.filter(dataset_id__in=dataset_ids).delete()


def _current(source: str) -> DirectoryImport | None:
    row = DirectorySource.objects.select_related("current").filter(source=source).first()
    return row.current if row else None


def _execute(run: _Run, request: ImportRequest, actor) -> DirectoryImport:
    record = run.record
    current = _current(request.source)
    run.step("verify", 5)
    path = request.file
    size, checksum = measure(path)
    record.file_size, record.checksum = size, checksum
    DirectoryImport.objects.filter(pk=record.pk).update(file_size=size, checksum=checksum)
    if current is not None and current.checksum == checksum:
        return run.finish(
            DirectoryImport.Status.NO_CHANGE, f"same file as the current data (import #{current.pk})", progress=100
        )
    run.step("load", 10)
    loaded = _load(run, request, path, size)
    record.rows = loaded.rows
    run.step("validate", 92)
    validate(record, loaded.rows, current)
    run.step("index", 94)
    if request.source == Source.FINESS:
        search_keys.build(record.pk)  # the word-start keys of directory/search/keys.py (PostgreSQL)
    if connection.vendor == "postgresql":  # the words that near spellings and a search's leading word come from
        spelling.remember(SEARCHED[request.source], record.pk)
    run.step("swap", 96)
    key = "finess" if request.source == Source.FINESS else "cip13"
    notes = [*loaded.notes, differences(ROW_MODELS[request.source], key, record, current)]
    record.reason = "; ".join(note for note in notes if note)[:4000]
    stale = _swap(record, actor, current.pk if current else None)
    _delete_rows(request.source, stale)
    run.step("done", 100)
    return run.finish(DirectoryImport.Status.SUCCEEDED, record.reason, rows=loaded.rows, progress=100)


def _close_interrupted(source: str) -> None:
    """Imports still `running` past DIRECTORY_IMPORT_STALE_SECONDS lost their process (a killed worker):
    record them failed and delete their partial rows. A younger running import refuses a second one."""
    stale_before = timezone.now() - timedelta(seconds=settings.DIRECTORY_IMPORT_STALE_SECONDS)
    running = DirectoryImport.objects.filter(source=source, status=DirectoryImport.Status.RUNNING)
    for record in running.filter(started_at__lt=stale_before):
        _delete_rows(source, [record.pk])
        record.status, record.finished_at = DirectoryImport.Status.FAILED, timezone.now()
        record.reason = f"interrupted: still running after DIRECTORY_IMPORT_STALE_SECONDS at step {record.step!r}"
        record.save(update_fields=["status", "finished_at", "reason"])
    active = running.filter(started_at__gte=stale_before).first()
    if active is not None:
        raise ImportRefused(f"import #{active.pk} of {source} is running (step {active.step!r}); wait for it to end")


def run_import(*, request: ImportRequest, actor=None, on_progress: Progress | None = None) -> DirectoryImport:
    """Run one import to its end; returns its record (succeeded, no_change or failed with the reason)."""
    check_may_import(actor)
    if request.source not in ROW_MODELS:
        raise ImportRefused(f"unknown source {request.source!r}: choose {', '.join(ROW_MODELS)}")
    _close_interrupted(request.source)
    origin = request.url or (request.file.name if request.file else "")
    record = DirectoryImport.objects.create(
        source=request.source, origin=origin[:500], started_by=actor, step="download" if request.url else "verify"
    )
    run = _Run(record, on_progress)
    downloaded = None
    try:
        if request.url:
            run.step("download", 1)
            downloaded = download(request.url)
            request = ImportRequest(source=request.source, file=downloaded, url=request.url, year=request.year)
        return _execute(run, request, actor)
    except (FetchError, FormatError, ValidationFailure) as error:
        return _fail(run, str(error))
    except Exception as error:  # any other failure must still leave the current data and say why
        logger.exception("directory import %s failed", record.pk)
        return _fail(run, f"unexpected error: {type(error).__name__}: {error}")
    finally:
        if downloaded is not None:
            downloaded.unlink(missing_ok=True)


def _fail(run: _Run, reason: str) -> DirectoryImport:
    _delete_rows(run.record.source, [run.record.pk])
    logger.warning("directory import %s failed: %s", run.record.pk, reason)
    record = run.finish(DirectoryImport.Status.FAILED, reason)
    audit.record(
        action="directory.import_failed",
        target=record,
        outcome="failure",
        details={"source": record.source, "reason": reason[:500]},
    )
    return record


def rollback(*, source: str, actor=None) -> DirectoryImport:
    """Make the previous dataset current again; the rolled-back one is marked so and its rows deleted."""
    check_may_import(actor)
    with transaction.atomic():
        row = DirectorySource.objects.select_for_update().filter(source=source).first()
        if row is None or row.previous_id is None:
            raise ImportRefused(f"no previous {source} data to roll back to")
        rolled_back = DirectoryImport.objects.get(pk=row.current_id)
        row.current_id, row.previous_id = row.previous_id, None
        row.save(update_fields=["current", "previous", "updated_at"])
        rolled_back.status = DirectoryImport.Status.ROLLED_BACK
        rolled_back.save(update_fields=["status"])
        audit.record(
            action="directory.rolled_back",
            actor=actor,
            target=rolled_back,
            details={"source": source, "current_import": row.current_id},
        )
    _delete_rows(source, [rolled_back.pk])
    return DirectoryImport.objects.get(pk=row.current_id)
