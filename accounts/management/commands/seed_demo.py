"""Seed the demo: two clinics, one member of each role in each, a platform admin, an API client per clinic.

Idempotent: a second run finds what the first made and reuses the passwords kept in
var/demo-credentials.json (never in git). Writes that file and prints the logins.

The platform admin and the org admins must sign in with a second factor: they are enrolled with an
authenticator-app (TOTP) secret, written beside their password as ``totp_secret`` (base32), so that a
newcomer can compute the current code (README says how) or add the secret to an authenticator app.
"""

import json
import os
import secrets
from contextlib import nullcontext
from pathlib import Path

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.mfa import services as mfa_services
from accounts.models import ApiClient, Membership, Organization, User
from accounts.roles import Role
from accounts.tenancy import scopes_disabled

DEMO_ORGANIZATIONS = [
    ("northside-cardiology", "Northside Cardiology Clinic"),
    ("lakeview-family-health", "Lakeview Family Health"),
]
SYSTEM = "system:seed_demo"


def demo_port() -> str:
    """`make demo` serves on $PORT (default 8000): the banner must name the address the server listens on."""
    port = os.environ.get("PORT", "").strip()
    return port if port.isdigit() else "8000"


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(12)


def _totp_secret(user) -> str:
    """The user's authenticator-app secret, enrolling one on the first run (later runs keep it)."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return get_mfa_adapter().decrypt(existing.data["secret"])
    _authenticator, secret = mfa_services.enrol_totp(user=user)
    return secret


class Command(BaseCommand):
    help = "Create or refresh the demo data and write var/demo-credentials.json."

    def handle(self, *args, **options):
        path = Path(settings.VAR_DIR) / "demo-credentials.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        known = {previous.get("platform_admin", {}).get("email"): previous.get("platform_admin", {}).get("password")}
        known_keys = {}
        for org in previous.get("organizations", []):
            for login in org.get("logins", []):
                known[login["email"]] = login["password"]
            if org.get("api_key"):
                known_keys[org["slug"]] = org["api_key"]

        credentials = {"platform_admin": self._user("admin@medilens.example", "Platform Admin", known, staff=True)}
        credentials["platform_admin"]["totp_secret"] = _totp_secret(User.objects.get(email="admin@medilens.example"))
        credentials["organizations"] = []
        for slug, name in DEMO_ORGANIZATIONS:
            credentials["organizations"].append(self._organization(slug, name, known, known_keys))
        self._seed_clinical_data(options["patients"])
        self._seed_directory()

        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(credentials, indent=2) + "\n")
        self._print(credentials, path)
        return None

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=50, help="demo patients per organization")

    def _seed_clinical_data(self, count: int) -> None:
        """Patients and assessments, queued for the real worker (started by `make demo`)."""
        from django.core.management import call_command

        from assessments.demo import seed_modalities, seed_patients
        from medilens.embedded_redis import ensure_running

        # The reference model (for validating the pipeline, not for clinical use) is what the demo's
        # radiology assessments run on.
        call_command("register_reference_models", stdout=self.stdout)
        broker = ensure_running() if settings.EMBEDDED else nullcontext()
        with broker:
            for slug, _ in DEMO_ORGANIZATIONS:
                organization = Organization.objects.get(slug=slug)
                outcome = seed_patients(organization=organization, count=count)
                modalities = seed_modalities(organization=organization)
                self.stdout.write(
                    f"{slug}: {outcome['patients']} new patients, {outcome['assessments']} new risk assessments, "
                    f"{sum(modalities.values())} new assessments of other modalities"
                )

    def _seed_directory(self) -> None:
        """The reference directory's shipped samples (FINESS, OpenMedic), so its search works in the demo."""
        from directory.demo import seed_samples

        for source, outcome in seed_samples().items():
            self.stdout.write(f"reference directory, {source}: {outcome}")

    def _user(self, email, full_name, known, staff=False) -> dict:
        user = User.objects.filter(email=email).first()
        password = known.get(email)
        if user is None:
            password = password or _password()
            user = services.create_user(
                acting_user=SYSTEM, email=email, password=password, full_name=full_name,
                is_staff=staff, is_superuser=staff,
            )
        elif not password or not user.check_password(password):
            password = _password()
            services.set_password(acting_user=SYSTEM, user=user, password=password)
        return {"email": email, "password": password}

    @transaction.atomic
    def _organization(self, slug, name, known, known_keys) -> dict:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = services.create_organization(acting_user=SYSTEM, name=name, slug=slug)
        logins = []
        domain = slug.split("-")[0]
        for role in Role.values:
            email = f"{role.replace('_', '.')}@{domain}.example"
            login = self._user(email, f"{Role(role).label} ({name.split()[0]})", known)
            user = User.objects.get(email=email)
            with scopes_disabled():
                if not Membership.objects.filter(organization=organization, user=user).exists():
                    services.add_membership(acting_user=SYSTEM, organization=organization, user=user, role=role)
            if role == Role.ORG_ADMIN:
                login["totp_secret"] = _totp_secret(user)
            logins.append({**login, "role": role})
        api_key = self._api_key(organization, known_keys.get(slug))
        return {"slug": slug, "name": name, "logins": logins, "api_key": api_key}

    def _api_key(self, organization, known_key) -> str:
        with scopes_disabled():
            clients = ApiClient.objects.filter(organization=organization, name="Demo partner", revoked_at=None)
            kept = next((c for c in clients if known_key and ApiClient.digest(known_key) == c.key_digest), None)
        if kept is not None:
            services.set_api_client_webhook_grant(
                acting_user=SYSTEM, organization=organization, client=kept, granted=True
            )
            return known_key
        with scopes_disabled():
            for client in clients:
                services.revoke_api_client(acting_user=SYSTEM, organization=organization, client=client)
        client, key = services.create_api_client(
            acting_user=SYSTEM, organization=organization, name="Demo partner", access=ApiClient.Access.CLINICIAN
        )
        # The demo's partner may register webhook endpoints (README's partner examples use it).
        services.set_api_client_webhook_grant(
            acting_user=SYSTEM, organization=organization, client=client, granted=True
        )
        return key

    def _print(self, credentials, path):
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo logins (also in {path}):"))
        admin = credentials["platform_admin"]
        out.write(f"  platform admin   {admin['email']:<36} {admin['password']}   -> /admin/")
        for org in credentials["organizations"]:
            out.write(f"\n  {org['name']} ({org['slug']})")
            for login in org["logins"]:
                out.write(f"    {login['role']:<12} {login['email']:<36} {login['password']}")
            out.write(f"    API key      {org['api_key']}")
        out.write(
            "\nThe platform admin and the org admins also need a code from an authenticator app: their base32\n"
            f"secrets are the totp_secret entries of {path}; README's Sign-in section prints the current code."
        )
        port = demo_port()
        out.write(
            f"\nPortal: http://127.0.0.1:{port}/ (for passkeys open http://localhost:{port}/: WebAuthn refuses IPs)"
        )
