"""manage.py rotate_encryption_keys: rotate field-encryption keys without downtime.

Master key rotation (the usual case)::

    FIELD_ENCRYPTION_KEYS=<new>,<old>   # deploy: the new key wraps, the old one still unwraps
    manage.py rotate_encryption_keys    # re-wrap every organization's keys under <new>
    FIELD_ENCRYPTION_KEYS=<new>         # deploy again once the command reports only <new> in use

Data key rotation (a data key may have leaked)::

    manage.py rotate_encryption_keys --data-keys [--organization SLUG ...]
    manage.py rotate_encryption_keys --resume            # after an interruption; safe to repeat
    manage.py rotate_encryption_keys --destroy-retired   # once FIELD_ENCRYPTION_KEY_CACHE_SECONDS passed
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from medilens.crypto import masterkeys
from medilens.crypto import reencrypt_services as reencrypt
from medilens.crypto import rotation_services as rotation


class Command(BaseCommand):
    help = "Re-wrap data keys under the first FIELD_ENCRYPTION_KEYS entry; or rotate data keys and re-encrypt rows."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--data-keys", action="store_true", help="New data key per organization, then re-encrypt rows in batches."
        )
        mode.add_argument(
            "--resume", action="store_true", help="Re-encrypt rows still sealed by a retired data key (resumable)."
        )
        mode.add_argument(
            "--destroy-retired", action="store_true", help="Delete retired data keys that no row uses any more."
        )
        parser.add_argument("--organization", action="append", default=[], metavar="SLUG", help="Only these.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["data_keys"] or options["resume"] or options["destroy_retired"]:
            for organization in self._organizations(options["organization"]):
                self._per_organization(organization, options)
            return
        done = rotation.rewrap()
        in_use = rotation.master_keys_in_use()
        self._say(f"Re-wrapped {done} key(s) under master key {masterkeys.primary().id}.")
        self._say(f"Master keys in use: {', '.join(in_use) or 'none'}.")
        unused = [k.id for k in masterkeys.master_keys() if k.id not in in_use]
        if unused:
            self._say(f"No longer needed in FIELD_ENCRYPTION_KEYS: {', '.join(unused)}.")

    def _say(self, line: str) -> None:
        if self.verbosity:
            self.stdout.write(line)

    def _organizations(self, slugs):
        organizations = Organization.objects.order_by("pk")
        if slugs:
            organizations = organizations.filter(slug__in=slugs)
            missing = sorted(set(slugs) - set(organizations.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No organization with slug: {', '.join(missing)}.")
        return list(organizations)

    def _per_organization(self, organization, options):
        name = f"organization {organization.pk} ({organization.slug})"
        if options["destroy_retired"]:
            try:
                versions = rotation.destroy_retired(organization)
            except rotation.RotationRefused as error:
                raise CommandError(f"{name}: {error}") from None
            self._say(f"{name}: destroyed retired data key version(s) {versions or 'none'}.")
            return
        if options["data_keys"]:
            version = rotation.new_data_key(organization)
            self._say(f"{name}: data key v{version} now seals new values.")

        def report(label, progress):
            if self.verbosity > 1:
                self._say(f"  {label}: {progress.scanned} scanned, {progress.reencrypted} re-encrypted")

        progress = reencrypt.reencrypt_organization(organization, batch_size=options["batch_size"], report=report)
        self._say(
            f"{name}: {progress.reencrypted} row(s) re-encrypted of {progress.scanned} scanned "
            f"({', '.join(f'{k} {v}' for k, v in progress.per_model.items() if v) or 'none needed'})."
        )
