from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from medilens.backup import keys, verify
from medilens.backup.errors import expected_failures


class Command(BaseCommand):
    help = "Check an archive without restoring it: decrypt it all and match every member against its manifest."

    def add_arguments(self, parser):
        parser.add_argument("archive")

    def handle(self, *args, archive, **options):
        try:
            verified = verify.verify(Path(archive), keys.identity())
        except expected_failures() as error:
            raise CommandError(f"archive refused: {error}") from None
        document = verified.manifest
        self.stdout.write(
            f"ok {archive}: made {document['created_at']} by MediLens {document['app_version']}, "
            f"{document['database']['vendor']} database with {len(document['database']['row_counts'])} tables, "
            f"{document['object_count']} objects; every checksum matches"
        )
