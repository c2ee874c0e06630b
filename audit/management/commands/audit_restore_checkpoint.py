from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from audit import checkpoints, keys


class Command(BaseCommand):
    help = (
        "After restoring the database from a backup, and before workers start again: write a signed "
        "'restored' checkpoint, so verify_audit_chain reports the events the restore lost as a restore, not "
        "as tampering."
    )

    def add_arguments(self, parser):
        parser.add_argument("--backup-taken-at", metavar="ISO-8601", help="when the restored backup was taken")
        parser.add_argument("--note", default="", help="a short note kept in the checkpoint (no patient data)")

    def handle(self, *args, **options):
        taken = options.get("backup_taken_at")
        backup_taken_at = parse_datetime(taken) if taken else None
        if taken and (backup_taken_at is None or backup_taken_at.tzinfo is None):
            raise CommandError("--backup-taken-at must be an ISO-8601 time with its offset, e.g. 2026-12-01T03:00Z")
        try:
            checkpoint = checkpoints.write_restore_checkpoint(backup_taken_at=backup_taken_at, note=options["note"])
        except (keys.KeyProblem, checkpoints.CheckpointUnavailable) as problem:
            raise CommandError(str(problem), returncode=3) from problem
        self.stdout.write(f"restore checkpoint {checkpoint.name}")
        for lost in checkpoint.payload["restores"][-1]["lost"]:
            label = "platform" if lost["organization"] is None else f"organization {lost['slug']}"
            self.stdout.write(
                f"{label}: restored to sequence {lost['restored_sequence']}; the checkpoint of "
                f"{lost['checkpoint_written_at']} held sequence {lost['checkpointed_sequence']}"
            )
