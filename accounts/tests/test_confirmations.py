"""Removing a member, changing a role and revoking an invitation or an API key take a confirmation step
on the server: the list's buttons open a page that asks, and only that page's form (which carries
``confirm=yes``) acts. A POST without it, a GET, or a double click on the list changes nothing."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import ApiClient, Invitation, Membership
from accounts.roles import Role
from audit.models import AuditEvent

from .helpers import page_text, row_counts
from .tenant_routes import OBJECT_ROUTES


@pytest.fixture
def admin(tenant_a):
    return tenant_a.client_for(Role.ORG_ADMIN)


def _audit_count(tenant):
    return AuditEvent.objects.filter(organization=tenant.organization).count()


CASES = {
    # route: (extra POST data, the question the page asks, its confirm button)
    "accounts:member_remove": ({}, "Remove", "Remove access"),
    "accounts:member_role": ({"role": Role.AUDITOR}, "to Auditor?", "Make them Auditor"),
    "accounts:invitation_revoke": ({}, "Revoke the invitation of", "Revoke invitation"),
    "accounts:api_client_revoke": ({}, "Revoke the key of", "Revoke key"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("method", ["get", "post"])
def test_without_confirmation_nothing_changes_and_the_page_asks(name, method, tenant_a, admin):
    data, question, button = CASES[name]
    spec = OBJECT_ROUTES[name]
    kwargs = spec.make(tenant_a)
    state, counts, events = spec.state(kwargs), row_counts(), _audit_count(tenant_a)

    response = getattr(admin, method)(reverse(name, kwargs=kwargs), data)

    assert response.status_code == 200
    assert spec.state(kwargs) == state, "changed without a confirmation"
    assert row_counts() == counts and _audit_count(tenant_a) == events
    text = page_text(response)
    assert question in text and button in text and "Cancel" in text
    body = response.content.decode()
    assert 'name="confirm" value="yes"' in body and 'method="post"' in body


@pytest.mark.parametrize("value", ["", "no", "YES", "1"])
def test_only_the_exact_confirmation_value_acts(value, tenant_a, admin):
    kwargs = OBJECT_ROUTES["accounts:member_remove"].make(tenant_a)
    admin.post(reverse("accounts:member_remove", kwargs=kwargs), {"confirm": value})
    with scopes_disabled():
        assert Membership.objects.filter(pk=kwargs["pk"]).exists()


def test_the_confirmed_post_acts(tenant_a, admin):
    kwargs = OBJECT_ROUTES["accounts:api_client_revoke"].make(tenant_a)
    response = admin.post(reverse("accounts:api_client_revoke", kwargs=kwargs), {"confirm": "yes"}, follow=True)
    assert "its key no longer works" in page_text(response)
    with scopes_disabled():
        assert ApiClient.objects.get(pk=kwargs["pk"]).revoked_at is not None


def test_role_confirmation_names_both_roles_and_keeps_the_choice(tenant_a, admin):
    kwargs = OBJECT_ROUTES["accounts:member_role"].make(tenant_a)
    with scopes_disabled():
        before = Membership.objects.select_related("user").get(pk=kwargs["pk"])
    response = admin.get(reverse("accounts:member_role", kwargs=kwargs), {"role": Role.ORG_ADMIN})
    text = page_text(response)
    assert f"Change the role of {before.user.email} from {before.get_role_display()} to Organization admin" in text
    assert f'name="role" value="{Role.ORG_ADMIN}"' in response.content.decode()


def test_role_confirmation_refuses_an_unknown_role(tenant_a, admin):
    kwargs = OBJECT_ROUTES["accounts:member_role"].make(tenant_a)
    state = OBJECT_ROUTES["accounts:member_role"].state(kwargs)
    response = admin.get(reverse("accounts:member_role", kwargs=kwargs), {"role": "superuser"}, follow=True)
    assert "Choose one of the listed roles." in page_text(response)
    assert OBJECT_ROUTES["accounts:member_role"].state(kwargs) == state


def test_the_lists_link_to_the_confirmation_pages_not_to_actions(tenant_a, admin):
    members = admin.get(reverse("accounts:members")).content.decode()
    with scopes_disabled():
        membership = Membership.objects.filter(organization=tenant_a.organization).first()
    remove = reverse("accounts:member_remove", kwargs={"pk": membership.pk})
    assert f'href="{remove}"' in members
    assert f'<form method="get" action="{reverse("accounts:member_role", kwargs={"pk": membership.pk})}"' in members
    OBJECT_ROUTES["accounts:api_client_revoke"].make(tenant_a)
    clients = admin.get(reverse("accounts:api_clients")).content.decode()
    assert 'href="/api-clients/' in clients and "/revoke/" in clients
    assert 'method="post" action="/api-clients/' not in clients


def test_a_revoked_invitation_stays_revoked_when_confirmed_twice(tenant_a, admin):
    kwargs = OBJECT_ROUTES["accounts:invitation_revoke"].make(tenant_a)
    url = reverse("accounts:invitation_revoke", kwargs=kwargs)
    admin.post(url, {"confirm": "yes"})
    response = admin.post(url, {"confirm": "yes"}, follow=True)
    assert "Only an open invitation can be revoked." in page_text(response)
    with scopes_disabled():
        assert Invitation.objects.get(pk=kwargs["pk"]).revoked_at is not None
