from django.core.management.base import BaseCommand, CommandError

from medilens.backup import hooks
from retention import ledger, services


class Command(BaseCommand):
    help = (
        "Purge again every patient the purge ledger names who is in the database: run it after a point-in-time "
        "recovery (manage.py restore does it itself). Also drops what outside the database was keyed by ids the "
        "recovered database hands out again (the directory's cached searches). Prints internal ids only."
    )

    def handle(self, *args, **options):
        hooks.after_database_rollback()  # whatever the ledger says: the database did go back
        try:
            replayed = services.replay_ledger()
        except ledger.LedgerError as error:
            raise CommandError(f"nothing purged: {error}") from None
        self.stdout.write(f"purge ledger: {len(replayed)} purged patient(s) purged again")
        for patient_id in replayed:
            self.stdout.write(f"  {patient_id}")
