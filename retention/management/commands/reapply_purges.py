from django.core.management.base import BaseCommand, CommandError

from retention import ledger, services


class Command(BaseCommand):
    help = (
        "Purge again every patient the purge ledger names who is in the database: run it after a point-in-time "
        "recovery (manage.py restore does it itself). Prints internal ids only."
    )

    def handle(self, *args, **options):
        try:
            replayed = services.replay_ledger()
        except ledger.LedgerError as error:
            raise CommandError(f"nothing purged: {error}") from None
        self.stdout.write(f"purge ledger: {len(replayed)} purged patient(s) purged again")
        for patient_id in replayed:
            self.stdout.write(f"  {patient_id}")
