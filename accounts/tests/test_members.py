"""The members page: invite, change roles, remove; and every bad input answered with a clear message
that changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts import services
from accounts.models import Invitation, Membership, User
from accounts.roles import Role
from audit.models import AuditEvent
from medilens.testing.factories import make_member

from .helpers import page_text, row_counts


def _membership(tenant, role):
    with scopes_disabled():
        return Membership.objects.get(organization=tenant.organization, user=tenant.users[role])


def _role_of(membership):
    with scopes_disabled():
        return Membership.objects.get(pk=membership.pk).role


@pytest.fixture
def admin(tenant_a):
    return tenant_a.client_for(Role.ORG_ADMIN)


# --- what works -------------------------------------------------------------------------------------
def test_members_page_lists_the_organizations_people(tenant_a, admin):
    text = page_text(admin.get(reverse("accounts:members")))
    for user in tenant_a.users.values():
        assert user.email in text


def test_change_a_role(tenant_a, admin):
    membership = _membership(tenant_a, Role.TECHNICIAN)
    response = admin.post(
        reverse("accounts:member_role", kwargs={"pk": membership.pk}),
        {"role": Role.CLINICIAN, "confirm": "yes"},
        follow=True,
    )
    assert _role_of(membership) == Role.CLINICIAN
    # The confirmation names the new role, not the old one.
    assert f"{membership.user.email} is now Clinician." in page_text(response)
    event = AuditEvent.objects.get(action="membership.role_changed", organization=tenant_a.organization)
    assert event.details["from"] == Role.TECHNICIAN and event.details["to"] == Role.CLINICIAN


def test_remove_a_member(tenant_a, admin):
    membership = _membership(tenant_a, Role.AUDITOR)
    response = admin.post(
        reverse("accounts:member_remove", kwargs={"pk": membership.pk}), {"confirm": "yes"}, follow=True
    )
    assert "no longer has access" in page_text(response)
    with scopes_disabled():
        assert not Membership.objects.filter(pk=membership.pk).exists()
    # The person keeps their account; only the access is gone.
    assert User.objects.filter(pk=membership.user_id, is_active=True).exists()
    assert tenant_a.client_for(Role.AUDITOR).get(reverse("portal:dashboard")).status_code == 403
    assert AuditEvent.objects.filter(action="membership.removed", organization=tenant_a.organization).exists()


def test_an_org_admin_can_be_demoted_when_another_remains(tenant_a, admin):
    second = _membership(tenant_a, Role.CLINICIAN)
    services.change_role(
        acting_user=tenant_a.users[Role.ORG_ADMIN],
        organization=tenant_a.organization,
        membership=second,
        role=Role.ORG_ADMIN,
    )
    own = _membership(tenant_a, Role.ORG_ADMIN)
    admin.post(reverse("accounts:member_role", kwargs={"pk": own.pk}), {"role": Role.CLINICIAN, "confirm": "yes"})
    assert _role_of(own) == Role.CLINICIAN


# --- bad input: a clear message, nothing changed --------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "role": Role.CLINICIAN}, "Enter a valid email address."),
        ({"email": "two@@example.org", "role": Role.CLINICIAN}, "Enter a valid email address."),
        ({"email": "", "role": Role.CLINICIAN}, "This field is required."),
        (
            {"email": "someone@example.org", "role": "superuser"},
            "Select a valid choice. superuser is not one of the available choices.",
        ),
        ({"email": "clinician@clinic-a.example.org", "role": Role.AUDITOR}, "is already a member of Clinic A"),
        ({"email": "Clinician@Clinic-A.example.org", "role": Role.AUDITOR}, "is already a member of Clinic A"),
    ],
    ids=["malformed", "double-at", "empty", "unknown-role", "existing-member", "existing-member-other-case"],
)
def test_invite_rejects_bad_input(tenant_a, admin, data, message, mailoutbox):
    counts = row_counts()
    response = admin.post(reverse("accounts:members"), data)
    assert response.status_code == 400
    assert message in page_text(response)
    assert row_counts() == counts
    assert mailoutbox == []


def test_a_second_open_invitation_for_the_same_email_is_refused(tenant_a, admin):
    first = admin.post(reverse("accounts:members"), {"email": "twice@example.org", "role": "clinician"})
    assert first.status_code == 302
    counts = row_counts()
    response = admin.post(reverse("accounts:members"), {"email": "Twice@Example.org", "role": "auditor"})
    assert response.status_code == 400
    assert "twice@example.org already has an open invitation." in page_text(response)
    assert row_counts() == counts
    with scopes_disabled():
        assert list(Invitation.objects.values_list("role", flat=True)) == ["clinician"]


def test_demoting_the_last_org_admin_is_refused(tenant_a, admin):
    own = _membership(tenant_a, Role.ORG_ADMIN)
    counts = row_counts()
    response = admin.post(
        reverse("accounts:member_role", kwargs={"pk": own.pk}), {"role": Role.CLINICIAN, "confirm": "yes"}, follow=True
    )
    assert "This is the organization's last admin: make someone else admin first." in page_text(response)
    assert _role_of(own) == Role.ORG_ADMIN
    assert row_counts() == counts
    assert not AuditEvent.objects.filter(action="membership.role_changed").exists()


def test_removing_the_last_org_admin_is_refused(tenant_a, admin):
    own = _membership(tenant_a, Role.ORG_ADMIN)
    counts = row_counts()
    response = admin.post(reverse("accounts:member_remove", kwargs={"pk": own.pk}), {"confirm": "yes"}, follow=True)
    assert "This is the organization's last admin and cannot be removed." in page_text(response)
    assert _role_of(own) == Role.ORG_ADMIN
    assert row_counts() == counts


def test_a_role_that_does_not_exist_is_refused(tenant_a, admin):
    membership = _membership(tenant_a, Role.TECHNICIAN)
    counts = row_counts()
    response = admin.post(
        reverse("accounts:member_role", kwargs={"pk": membership.pk}),
        {"role": "superuser", "confirm": "yes"},
        follow=True,
    )
    assert "Choose one of the listed roles." in page_text(response)
    assert _role_of(membership) == Role.TECHNICIAN
    assert row_counts() == counts
    # The services refuse it too, whoever calls them.
    with pytest.raises(ValidationError, match="'superuser' is not a role"):
        services.change_role(
            acting_user=tenant_a.users[Role.ORG_ADMIN],
            organization=tenant_a.organization,
            membership=membership,
            role="superuser",
        )
    with pytest.raises(ValidationError, match="'superuser' is not a role"):
        services.invite(
            acting_user=tenant_a.users[Role.ORG_ADMIN],
            organization=tenant_a.organization,
            email="x@example.org",
            role="superuser",
        )
    outsider = make_member(tenant_a.organization, Role.AUDITOR, email="outsider@example.org")
    with pytest.raises(ValidationError, match="already a member"):
        services.add_membership(
            acting_user=None, organization=tenant_a.organization, user=outsider, role=Role.CLINICIAN
        )
    assert row_counts()["accounts.Membership"] == counts["accounts.Membership"] + 1


def test_the_invite_service_validates_email(tenant_a):
    counts = row_counts()
    for email in ("not-an-email", "a@b", "", "   "):
        with pytest.raises(ValidationError) as error:
            services.invite(
                acting_user=tenant_a.users[Role.ORG_ADMIN],
                organization=tenant_a.organization,
                email=email,
                role="clinician",
            )
        assert error.value.message_dict == {"email": ["Enter a valid email address."]}
    assert row_counts() == counts
