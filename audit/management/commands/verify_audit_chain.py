from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from audit.models import AuditEvent
from audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chains; exits non-zero naming the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--organization", metavar="SLUG", help="verify only this organization's chain")

    def handle(self, *args, **options):
        slug = options.get("organization")
        if slug:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"no organization with slug {slug!r}")
            chains = [(organization.pk, f"organization {slug}")]
        else:
            org_ids = AuditEvent.objects.order_by().values_list("organization_id", flat=True).distinct()
            slugs = dict(Organization.objects.values_list("pk", "slug"))
            chains = [
                (org_id, f"organization {slugs.get(org_id, org_id)}" if org_id else "platform")
                for org_id in sorted(org_ids, key=lambda v: (v is not None, v or 0))
            ]
        broken = False
        for org_id, label in chains:
            count, problem = verify_chain(org_id)
            if problem:
                broken = True
                self.stderr.write(f"BROKEN {label}: {problem}")
            else:
                self.stdout.write(f"ok {label}: {count} events")
        if broken:
            raise CommandError("audit chain verification failed", returncode=2)
