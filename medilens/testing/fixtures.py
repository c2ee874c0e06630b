"""Shared pytest fixtures: two tenants, a member of each role in each, API clients, logged-in clients."""

from dataclasses import dataclass, field

import pytest
from django.test import Client

from accounts.access import SESSION_KEY
from accounts.models import ApiClient, Organization, User
from accounts.roles import Role

from .factories import DEFAULT_PASSWORD, OrganizationFactory, make_api_client, make_member


@dataclass
class Tenant:
    organization: Organization
    users: dict[str, User] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)
    api_clients: dict[str, ApiClient] = field(default_factory=dict)

    def client_for(self, role: str) -> Client:
        client = Client()
        client.force_login(self.users[role])
        session = client.session
        session[SESSION_KEY] = self.organization.pk
        session.save()
        return client

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
    for access in ApiClient.Access.values:
        client, key = make_api_client(organization, access=access, name=f"{slug} {access}")
        tenant.api_keys[access] = key
        tenant.api_clients[access] = client
    return tenant


@pytest.fixture
def tenant_a(db) -> Tenant:
    return build_tenant("clinic-a")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return build_tenant("clinic-b")


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD
