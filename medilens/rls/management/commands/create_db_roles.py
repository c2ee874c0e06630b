"""Create (or bring up to date) the application and maintenance database roles and their grants.

Run as the tables' owner with superuser rights (BYPASSRLS can only be granted by a superuser), after
``migrate``. Idempotent. Passwords are read from MEDILENS_APP_DB_PASSWORD and
MEDILENS_MAINTENANCE_DB_PASSWORD when set. See README, "Row-Level Security".
"""

import os

from django.core.management.base import BaseCommand, CommandError

from medilens.rls.roles import APP_ROLE, MAINTENANCE_ROLE, create_roles


class Command(BaseCommand):
    help = "Create the medilens_app (RLS applies) and medilens_maintenance (BYPASSRLS) roles and grants."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="the alias to connect with (the owner)")

    def handle(self, *args, database, **options):
        try:
            create_roles(
                alias=database,
                app_password=os.environ.get("MEDILENS_APP_DB_PASSWORD") or None,
                maintenance_password=os.environ.get("MEDILENS_MAINTENANCE_DB_PASSWORD") or None,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Roles {APP_ROLE} (row-level security applies) and {MAINTENANCE_ROLE} (BYPASSRLS) ready.")
