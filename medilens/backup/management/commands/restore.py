from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from medilens.backup.errors import expected_failures
from medilens.backup.restore import restore_archive


class Command(BaseCommand):
    help = (
        "Restore an archive into an empty database and storage (--force: replace what is there). The whole archive "
        "is checked before anything changes; purges recorded in the purge ledger are applied again afterwards."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument(
            "--force", action="store_true", help="restore over a database and storage that are not empty"
        )

    def handle(self, *args, archive, force=False, **options):
        try:
            result = restore_archive(Path(archive), force=force)
        except expected_failures() as error:
            raise CommandError(f"restore failed: {error}") from None
        document = result.manifest
        self.stdout.write(
            f"restored {archive} (made {document['created_at']}): {len(document['database']['row_counts'])} tables "
            f"with row counts as in the manifest, {result.objects} objects written and checked"
            + (f", {result.skipped_objects} kept as they were" if result.skipped_objects else "")
        )
        if result.migrated:
            self.stdout.write("the archive was older than this code: migrations applied")
        self.stdout.write(f"purge ledger: {len(result.replayed)} purged patient(s) purged again")
        for patient_id in result.replayed:
            self.stdout.write(f"  {patient_id}")
