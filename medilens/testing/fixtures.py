"""Shared pytest fixtures: two tenants, a member of each role in each, API clients, logged-in clients."""

import uuid
from dataclasses import dataclass, field

import pytest
from django.test import Client

from accounts.models import ApiClient, Organization, User
from accounts.roles import Role

from .factories import DEFAULT_PASSWORD, OrganizationFactory, make_api_client, make_member
from .mfa import complete_second_step, enrol_totp, signed_in_client


@dataclass
class Tenant:
    organization: Organization
    users: dict[str, User] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    api_clients: dict[str, ApiClient] = field(default_factory=dict)
    # Base32 TOTP secrets of the members enrolled with an authenticator app (the org admin: required).
    totp_secrets: dict[str, str] = field(default_factory=dict)

    def client_for(self, role: str) -> Client:
        """A signed-in client; a member with a second factor is signed in as having used it."""
        return signed_in_client(self.users[role], organization=self.organization)

    def api(self, access: str = ApiClient.Access.CLINICIAN):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_keys[access]}")
        return client


def build_tenant(slug: str) -> Tenant:
    organization = OrganizationFactory(slug=slug, name=slug.replace("-", " ").title())
    tenant = Tenant(organization)
    for role in Role.values:
        tenant.users[role] = make_member(organization, role, email=f"{role}@{slug}.example.org")
    # Org admins cannot use the portal without a second factor.
    _, tenant.totp_secrets[Role.ORG_ADMIN] = enrol_totp(tenant.users[Role.ORG_ADMIN])
    for access in ApiClient.Access.values:
        client, key = make_api_client(organization, access=access, name=f"{slug} {access}")
        tenant.api_keys[access] = key
        tenant.api_clients[access] = client
    return tenant


@pytest.fixture(autouse=True)
def _force_login_completes_the_second_step(request, monkeypatch):
    """``client.force_login`` (the test client's shortcut past the password) also passes the second step,
    so tests of what staff and org admins do need not type codes; a test of the second-factor rules
    themselves asks for ``force_login_without_second_step``."""
    if "force_login_without_second_step" in request.fixturenames:
        return
    force_login = Client.force_login

    def force_login_with_second_step(self, user, backend=None):
        force_login(self, user, backend)
        complete_second_step(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_with_second_step)


@pytest.fixture(autouse=True)
def _fresh_sign_in_limits(settings):
    """The sign-in limits count in Redis, which outlives each test's rolled-back database: each test starts
    with no failures counted (only this session's keys are touched; the Redis is shared)."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"{settings.CACHE_KEY_PREFIX}:*:limits:*", count=1000):
        client.delete(key)


@pytest.fixture(autouse=True)
def _own_checkpoint_prefix(settings):
    """Audit checkpoints live in storage, which a test's database rollback does not undo: a checkpoint left by
    an earlier test would read as truncation to the next one. Each test gets its own prefix."""
    settings.AUDIT_CHECKPOINT_PREFIX = f"audit-checkpoints-test/{uuid.uuid4().hex}"


@pytest.fixture
def force_login_without_second_step():
    """Opt out of the autouse fixture above: ``force_login`` then signs in with the password step only."""


@pytest.fixture
def analysed_in_process(monkeypatch):
    """For tests that commit assessments and run their analysis themselves (assessments.pipeline.run): their
    messages are not sent, so a session worker that another test of this process started (tests marked
    ``worker``) cannot take one first and leave the test's own run "skipped"."""
    from assessments import status_services

    monkeypatch.setattr(status_services, "publish", lambda *args: True)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return build_tenant("clinic-a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return build_tenant("clinic-b")


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD
