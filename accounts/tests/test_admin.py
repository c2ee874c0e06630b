"""Django admin for platform staff: organizations (create, suspend, reactivate) with bad input refused,
memberships through the same rules as the portal, and no way in for clinic members."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Organization, User
from accounts.roles import Role
from accounts.tenancy import scopes_disabled
from audit.models import AuditEvent

from .helpers import page_text, row_counts

ADD = "/admin/accounts/organization/add/"


@pytest.fixture
def staff(db, password):
    user = User.objects.create_superuser("platform@medilens.example.org", password, full_name="Platform Admin")
    client = Client()
    client.force_login(user)
    return client


def _add(staff, **fields):
    data = {"name": "New Clinic", "slug": "new-clinic", "data_retention_days": "2555"} | fields
    return staff.post(ADD, data)


def test_staff_create_an_organization(staff):
    response = _add(staff, name="Harbour Clinic", slug="harbour-clinic", data_retention_days="3650")
    assert response.status_code == 302
    organization = Organization.objects.get(slug="harbour-clinic")
    assert organization.data_retention_days == 3650 and organization.is_active
    assert AuditEvent.objects.filter(action="organization.created", organization=organization).exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"slug": "clinic-a"}, "clinic-a"),
        ({"slug": "Clinic-A"}, "clinic-a"),
        ({"slug": "clinic a"}, "Enter a valid"),
        ({"data_retention_days": "0"}, "greater than or equal to 1"),
        ({"data_retention_days": "forever"}, "Enter a whole number."),
        ({"name": ""}, "This field is required."),
    ],
    ids=["taken-slug", "taken-slug-other-case", "invalid-slug", "zero-retention", "text-retention", "no-name"],
)
def test_the_add_form_refuses_bad_input(staff, tenant_a, fields, message):
    counts = row_counts()
    response = _add(staff, **fields)
    assert response.status_code == 200, "the form is shown again with the error (never a 500)"
    assert "Please correct the error below." in page_text(response)
    assert message in page_text(response)
    assert row_counts() == counts


def test_a_taken_slug_is_refused_when_editing_too(staff, tenant_a, tenant_b):
    url = f"/admin/accounts/organization/{tenant_b.organization.pk}/change/"
    response = staff.post(url, {"name": "Clinic B", "slug": "CLINIC-A", "data_retention_days": "2555"})
    assert response.status_code == 200
    assert "clinic-a" in page_text(response)
    tenant_b.organization.refresh_from_db()
    assert tenant_b.organization.slug == "clinic-b"


def test_staff_suspend_and_reactivate_and_still_see_suspended_organizations(staff, tenant_a, password):
    changelist = "/admin/accounts/organization/"
    response = staff.post(changelist, {"action": "suspend", "_selected_action": [tenant_a.organization.pk]})
    assert response.status_code == 302
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.status == Organization.Status.SUSPENDED
    assert AuditEvent.objects.filter(action="organization.suspended", organization=tenant_a.organization).exists()

    page = staff.get(changelist, {"status__exact": "suspended"})
    assert "Clinic A" in page_text(page)
    assert staff.get(f"{changelist}{tenant_a.organization.pk}/change/").status_code == 200
    member = Client().post(reverse("login"), {"username": "clinician@clinic-a.example.org", "password": password})
    assert member.status_code == 200  # refused: suspended

    staff.post(changelist, {"action": "reactivate", "_selected_action": [tenant_a.organization.pk]})
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.is_active
    member = Client().post(reverse("login"), {"username": "clinician@clinic-a.example.org", "password": password})
    assert member.status_code == 302


def test_organizations_cannot_be_deleted(staff, tenant_a):
    response = staff.get(f"/admin/accounts/organization/{tenant_a.organization.pk}/delete/")
    assert response.status_code == 403
    assert Organization.objects.filter(pk=tenant_a.organization.pk).exists()


def test_admin_keeps_the_last_org_admin(staff, tenant_a):
    with scopes_disabled():
        own = Membership.objects.get(organization=tenant_a.organization, user=tenant_a.users[Role.ORG_ADMIN])
    url = f"/admin/accounts/membership/{own.pk}/delete/"
    counts, events = row_counts(), AuditEvent.objects.count()
    page = staff.get(url)
    assert "last organization admin of Clinic A" in page_text(page)
    response = staff.post(url, {"post": "yes"})
    assert response.status_code == 403
    # Nor through the bulk action.
    response = staff.post(
        "/admin/accounts/membership/", {"action": "delete_selected", "_selected_action": [own.pk], "post": "yes"}
    )
    assert response.status_code == 403
    with scopes_disabled():
        assert Membership.objects.get(pk=own.pk).role == Role.ORG_ADMIN
    assert row_counts() == counts
    assert AuditEvent.objects.count() == events, "a refused deletion was audited as done"


def test_admin_deletes_a_membership(staff, tenant_a):
    with scopes_disabled():
        membership = Membership.objects.get(organization=tenant_a.organization, user=tenant_a.users[Role.AUDITOR])
    response = staff.post(f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    with scopes_disabled():
        assert not Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.filter(action="membership.removed", organization=tenant_a.organization).exists()


def test_clinic_members_cannot_open_admin(tenant_a):
    for role in Role.values:
        response = tenant_a.client_for(role).get("/admin/accounts/organization/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def _admin_membership(tenant, role):
    with scopes_disabled():
        return Membership.objects.get(organization=tenant.organization, user=tenant.users[role])


def test_admin_refuses_to_demote_the_last_org_admin(staff, tenant_a):
    own = _admin_membership(tenant_a, Role.ORG_ADMIN)
    counts = row_counts()
    response = staff.post(f"/admin/accounts/membership/{own.pk}/change/", {"role": Role.CLINICIAN})
    assert response.status_code == 200
    assert "last admin" in page_text(response)
    assert _admin_membership(tenant_a, Role.ORG_ADMIN).role == Role.ORG_ADMIN
    assert row_counts() == counts


def test_admin_changes_a_role(staff, tenant_a):
    membership = _admin_membership(tenant_a, Role.TECHNICIAN)
    response = staff.post(f"/admin/accounts/membership/{membership.pk}/change/", {"role": Role.CLINICIAN})
    assert response.status_code == 302
    assert _admin_membership(tenant_a, Role.TECHNICIAN).role == Role.CLINICIAN
    assert AuditEvent.objects.filter(action="membership.role_changed", organization=tenant_a.organization).exists()


def test_admin_refuses_to_add_an_existing_member(staff, tenant_a):
    counts = row_counts()
    response = staff.post(
        "/admin/accounts/membership/add/",
        {
            "organization_choice": tenant_a.organization.pk,
            "user": tenant_a.users[Role.CLINICIAN].pk,
            "role": Role.AUDITOR,
        },
    )
    assert response.status_code == 200
    assert "clinician@clinic-a.example.org is already a member of Clinic A." in page_text(response)
    assert row_counts() == counts


def test_admin_adds_a_member(staff, tenant_a, tenant_b):
    response = staff.post(
        "/admin/accounts/membership/add/",
        {
            "organization_choice": tenant_a.organization.pk,
            "user": tenant_b.users[Role.CLINICIAN].pk,
            "role": Role.AUDITOR,
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        added = Membership.objects.get(organization=tenant_a.organization, user=tenant_b.users[Role.CLINICIAN])
    assert added.role == Role.AUDITOR
