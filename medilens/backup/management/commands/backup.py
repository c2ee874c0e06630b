from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from medilens.backup.create import create_backup
from medilens.backup.errors import expected_failures


class Command(BaseCommand):
    help = (
        "Write one encrypted archive (age, to BACKUP_ENCRYPTION_KEY) of the database and every stored object, with "
        "a manifest. DEST is a directory (a file named by the time is made in it) or a new file name."
    )

    def add_arguments(self, parser):
        parser.add_argument("dest", help="directory or new file for the archive")

    def handle(self, *args, dest, **options):
        try:
            result = create_backup(Path(dest))
        except expected_failures() as error:
            raise CommandError(f"backup failed: {error}") from None
        document = result.manifest
        self.stdout.write(
            f"wrote {result.path}: {document['database']['vendor']} database "
            f"({sum(document['database']['row_counts'].values())} rows in {len(document['database']['row_counts'])} "
            f"tables), {document['object_count']} objects ({document['object_bytes']} bytes)"
        )
