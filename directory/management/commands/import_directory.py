"""`manage.py import_directory SOURCE [--file PATH | --url URL] [--year YYYY]` or `--rollback SOURCE`.

Ops-only: it runs as the system (the audit trail says "system:import_directory"). Without --file or
--url it downloads from the source's URL setting (DIRECTORY_FINESS_URL, DIRECTORY_OPENMEDIC_URL).
"""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from directory import services
from directory.models import DirectoryImport, Source
from directory.services import ImportRefused, ImportRequest, run_import

URL_SETTINGS = {Source.FINESS: "DIRECTORY_FINESS_URL", Source.OPENMEDIC: "DIRECTORY_OPENMEDIC_URL"}


class ProgressBar:
    """A one-line bar on stderr, redrawn when the percent changes (tqdm is not a pinned dependency)."""

    def __init__(self, stream):
        self.stream = stream
        self.shown = None

    def __call__(self, percent: int, step: str) -> None:
        if (percent, step) == self.shown:
            return
        self.shown = (percent, step)
        filled = percent * 30 // 100
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {step:<10}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown is not None:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Import a reference directory source (finess, openmedic) from a file or URL, or roll it back."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=[choice.value for choice in Source])
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--file", help="a local file in the source's published format")
        where.add_argument("--url", help="download from this http(s) URL instead of the source's setting")
        where.add_argument("--rollback", action="store_true", help="make the previous import current again")
        parser.add_argument("--year", type=int, help="OpenMedic: the year, if the file's name does not say it")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, source, file, url, rollback: bool, year, no_progress, **options):
        if rollback:
            try:
                current = services.rollback(source=source)
            except ImportRefused as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"Rolled back {source}: import #{current.pk} ({current.rows:,} rows) is current again.")
            return
        request = self._request(source, file, url, year)
        bar = None if no_progress else ProgressBar(sys.stderr)
        try:
            record = run_import(request=request, on_progress=bar)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        finally:
            if bar:
                bar.close()
        if record.status == DirectoryImport.Status.FAILED:
            raise CommandError(f"{source} import #{record.pk} failed: {record.reason}")
        self.stdout.write(
            f"{source} import #{record.pk}: {record.get_status_display()}, {record.rows:,} rows in"
            f" {record.duration_ms or 0} ms. {record.reason}"
        )

    def _request(self, source, file, url, year) -> ImportRequest:
        if file:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"no such file: {file}")
            return ImportRequest(source=source, file=path, year=year)
        url = url or getattr(settings, URL_SETTINGS[source])
        if not url:
            raise CommandError(f"give --file or --url: {URL_SETTINGS[source]} is empty")
        return ImportRequest(source=source, url=url, year=year)
