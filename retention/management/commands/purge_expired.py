from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import organization_scope
from retention import services


class Command(BaseCommand):
    help = (
        "Purge every patient whose last activity is older than their organization's retention and who is not on "
        "legal hold. Prints internal ids only. --dry-run lists them and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list who would be purged; change nothing")
        parser.add_argument("--organization", metavar="SLUG", help="only this organization")

    def handle(self, *args, dry_run=False, organization=None, **options):
        organizations = Organization.objects.order_by("pk")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"no organization with slug {organization!r}")
        now = timezone.now()
        verb = "would purge" if dry_run else "purged"
        total = 0
        for org in organizations:
            with organization_scope(org):
                ids = services.purge_expired(organization=org, now=now, dry_run=dry_run)
            total += len(ids)
            self.stdout.write(f"{org.slug}: {verb} {len(ids)} patient(s) (retention {org.data_retention_days} days)")
            for patient_id in ids:
                self.stdout.write(f"  {patient_id}")
        self.stdout.write(f"{verb} {total} patient(s) in all")
