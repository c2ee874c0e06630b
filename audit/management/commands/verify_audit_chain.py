from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from audit import checkpoints, jobs, keys
from audit.verification import verify_trail

BROKEN_EXIT = 2
NOT_CHECKED_EXIT = 3


class Command(BaseCommand):
    help = (
        "Seal what is queued, then verify the audit chains against the newest checkpoint. Exits 0 when "
        f"everything was checked and is intact, {BROKEN_EXIT} naming what is broken, {NOT_CHECKED_EXIT} when "
        "something could not be checked (AUDIT_HMAC_KEY missing or wrong, no checkpoint, storage unreadable)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", metavar="SLUG", help="verify only this organization's chain")
        parser.add_argument(
            "--no-seal", action="store_true", help="do not seal queued events first (they are then not checked)"
        )

    def handle(self, *args, **options):
        slug = options.get("organization")
        only = ...
        if slug:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"no organization with slug {slug!r}")
            only = organization.pk
        not_checked = [] if options["no_seal"] else self.seal()
        report = verify_trail(organization_id=only)
        self.write_report(report, not_checked + report.not_checked)
        if report.broken:
            raise CommandError("audit trail verification failed: see the BROKEN lines", returncode=BROKEN_EXIT)
        if not_checked or report.incomplete:
            raise CommandError(
                "audit trail not fully verified: see the NOT CHECKED lines", returncode=NOT_CHECKED_EXIT
            )

    def seal(self) -> list[str]:
        try:
            jobs.seal_and_checkpoint(wait=True)
        except keys.KeyProblem as problem:
            return [f"queued events were not sealed: {problem}"]
        except checkpoints.CheckpointUnavailable as problem:
            return [f"events were sealed but no checkpoint was written: {problem}"]
        return []

    def write_report(self, report, not_checked) -> None:
        if report.checkpoint is not None:
            checkpoint = report.checkpoint
            kind = checkpoint.payload["kind"]
            self.stdout.write(f"checkpoint {checkpoint.name} ({kind}, written {checkpoint.written_at})")
        for line in report.restores:
            self.stdout.write(f"RESTORED {line}")
        for chain in report.chains:
            if chain.problem:
                self.stderr.write(f"BROKEN {chain.label}: {chain.problem}")
            elif chain.not_checked:
                self.stderr.write(f"NOT CHECKED {chain.label}: {chain.not_checked}")
            else:
                self.stdout.write(f"ok {chain.label}: {chain.count} events")
            for note in chain.notes:
                self.stdout.write(f"note {chain.label}: {note}")
        for problem in report.problems:
            self.stderr.write(f"BROKEN {problem}")
        for reason in dict.fromkeys(not_checked):
            self.stderr.write(f"NOT CHECKED: {reason}")
