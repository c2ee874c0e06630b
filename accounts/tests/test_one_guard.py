"""One guard, one way in (DESIGN.md rule 10): the account services that change a tenant's row take the
organization and re-fetch the row inside it, so another organization's row is refused (``DoesNotExist``,
the caller's 404) whatever scope the caller is in, or none; the selectors return the organization they
are given, never the one the caller's scope happens to name."""

from contextlib import nullcontext

import pytest
from django_scopes import scopes_disabled

from accounts import selectors, services
from accounts.models import ApiClient, Invitation, Membership
from accounts.roles import Role
from accounts.tenancy import organization_scope
from audit.models import AuditEvent


def _membership(tenant, role):
    with scopes_disabled():
        return Membership.objects.get(organization=tenant.organization, user=tenant.users[role])


def _invitation(tenant):
    invitation, _ = services.invite(
        acting_user=tenant.users[Role.ORG_ADMIN],
        organization=tenant.organization,
        email=f"locum@{tenant.organization.slug}.example.org",
        role=Role.CLINICIAN,
    )
    return invitation


def _row(model, pk):
    with scopes_disabled():
        return model.objects.filter(pk=pk).first()


# Each: the service call on (organization, row), the row's model, and how to read the state it changes.
def _change_role(acting_user, organization, membership):
    return services.change_role(
        acting_user=acting_user, organization=organization, membership=membership, role=Role.AUDITOR
    )


def _remove(acting_user, organization, membership):
    return services.remove_membership(acting_user=acting_user, organization=organization, membership=membership)


def _revoke_invitation(acting_user, organization, invitation):
    return services.revoke_invitation(acting_user=acting_user, organization=organization, invitation=invitation)


def _revoke_client(acting_user, organization, client):
    return services.revoke_api_client(acting_user=acting_user, organization=organization, client=client)


CASES = {
    "change_role": (_change_role, Membership, lambda tenant: _membership(tenant, Role.TECHNICIAN),
                    lambda row: row and row.role),
    "remove_membership": (_remove, Membership, lambda tenant: _membership(tenant, Role.TECHNICIAN),
                          lambda row: row is not None),
    "revoke_invitation": (_revoke_invitation, Invitation, _invitation, lambda row: row.revoked_at),
    "revoke_api_client": (_revoke_client, ApiClient, lambda tenant: tenant.api_clients["clinician"],
                          lambda row: row.revoked_at),
}
CALLER_SCOPES = {
    "no scope": lambda tenant_a, tenant_b: nullcontext(),
    "scopes disabled (as admin runs)": lambda tenant_a, tenant_b: scopes_disabled(),
    "the other organization's scope": lambda tenant_a, tenant_b: organization_scope(tenant_b.organization),
}


@pytest.mark.parametrize("caller_scope", CALLER_SCOPES)
@pytest.mark.parametrize("case", CASES)
def test_a_service_refuses_another_organizations_row(tenant_a, tenant_b, case, caller_scope):
    call, model, make_row, state = CASES[case]
    row = make_row(tenant_b)
    before = state(_row(model, row.pk))
    events = AuditEvent.objects.count()
    with CALLER_SCOPES[caller_scope](tenant_a, tenant_b), pytest.raises(model.DoesNotExist):
        call(tenant_a.users[Role.ORG_ADMIN], tenant_a.organization, row)
    assert state(_row(model, row.pk)) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("case", CASES)
def test_the_same_service_changes_its_own_organizations_row(tenant_a, case):
    """The control: the refusal above is the organization check, not a broken call."""
    call, model, make_row, state = CASES[case]
    row = make_row(tenant_a)
    before = state(_row(model, row.pk))
    call(tenant_a.users[Role.ORG_ADMIN], tenant_a.organization, row)
    assert state(_row(model, row.pk)) != before
    assert AuditEvent.objects.filter(organization=tenant_a.organization, target_id=str(row.pk)).exists()


@pytest.mark.parametrize("caller_scope", CALLER_SCOPES)
def test_selectors_return_the_organization_they_are_given(tenant_a, tenant_b, caller_scope):
    _invitation(tenant_a)
    _invitation(tenant_b)
    with CALLER_SCOPES[caller_scope](tenant_a, tenant_b):
        members = list(selectors.organization_members(tenant_a.organization))
        invitations = selectors.organization_open_invitations(tenant_a.organization)
        clients = list(selectors.organization_api_clients(tenant_a.organization))
    assert {m.user_id for m in members} == {user.pk for user in tenant_a.users.values()}
    assert [i.organization_id for i in invitations] == [tenant_a.organization.pk]
    assert {c.pk for c in clients} == {c.pk for c in tenant_a.api_clients.values()}


def test_open_invitations_are_not_crowded_out_by_old_ones(tenant_a):
    """Only open invitations are read: two hundred accepted ones no longer hide the open one."""
    open_invitation = _invitation(tenant_a)
    with scopes_disabled():
        for number in range(200):
            Invitation.objects.create(
                organization=tenant_a.organization, email=f"old{number}@example.org", role=Role.CLINICIAN,
                token_digest=Invitation.new_token()[1], invited_by=tenant_a.users[Role.ORG_ADMIN],
                expires_at=open_invitation.expires_at, accepted_at=open_invitation.created_at,
            )
    assert selectors.organization_open_invitations(tenant_a.organization) == [open_invitation]


# --- the portal: a row of another organization is a 404 even if the view's own lookup let it through ----
@pytest.mark.parametrize(
    ("url", "model", "make_row"),
    [
        ("/members/{pk}/role/", Membership, lambda tenant: _membership(tenant, Role.TECHNICIAN)),
        ("/members/{pk}/remove/", Membership, lambda tenant: _membership(tenant, Role.TECHNICIAN)),
        ("/invitations/{pk}/revoke/", Invitation, _invitation),
        ("/api-clients/{pk}/revoke/", ApiClient, lambda tenant: tenant.api_clients["clinician"]),
    ],
)
def test_views_answer_404_when_the_service_refuses(tenant_a, tenant_b, url, model, make_row, monkeypatch):
    """Simulates a view whose scoped lookup failed open (here: replaced by an unscoped one): the service's
    own re-fetch still refuses, and the answer is the same 404 as for a missing row."""
    from django.urls import resolve

    row = make_row(tenant_b)
    path = url.format(pk=row.pk)
    view_module = resolve(path).func.view_class.__module__

    def unscoped_lookup(klass, **kwargs):
        with scopes_disabled():
            return klass.objects.get(**kwargs)

    monkeypatch.setattr(f"{view_module}.get_object_or_404", unscoped_lookup)
    # Confirmed: the request goes as far as the service (an unconfirmed one only shows the confirmation page).
    response = tenant_a.client_for(Role.ORG_ADMIN).post(path, {"role": Role.AUDITOR, "confirm": "yes"})
    assert response.status_code == 404
    assert _row(model, row.pk) is not None
