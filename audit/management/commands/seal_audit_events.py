from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints, jobs, keys


class Command(BaseCommand):
    help = "Seal every queued audit event now and write a checkpoint (beat does this every few seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--heartbeat", action="store_true", help="also write a checkpoint of every chain")

    def handle(self, *args, **options):
        try:
            run, checkpoint = jobs.seal_and_checkpoint(wait=True)
            if options["heartbeat"]:
                checkpoint = jobs.heartbeat() or checkpoint
        except (keys.KeyProblem, checkpoints.CheckpointUnavailable) as problem:
            raise CommandError(str(problem), returncode=3) from problem
        self.stdout.write(f"sealed {run.sealed} events")
        if checkpoint is not None:
            self.stdout.write(f"checkpoint {checkpoint.name}")
