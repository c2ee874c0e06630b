"""Organizations: creation (slug clashes), settings (bad input), and switching the active one."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import services
from accounts.access import SESSION_KEY
from accounts.models import Organization
from accounts.roles import Role
from medilens.testing.factories import MembershipFactory, OrganizationFactory

from .helpers import page_text, row_counts


# --- creation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "slug"),
    [("Another clinic", "clinic-a"), ("Another clinic", "Clinic A"), ("Clinic A", ""), ("Clinic-A!", "")],
    ids=["same-slug", "slugifies-to-taken", "name-derived", "name-derived-punctuation"],
)
def test_create_organization_refuses_a_taken_slug(tenant_a, name, slug):
    counts = row_counts()
    with pytest.raises(ValidationError) as error:
        services.create_organization(acting_user=None, name=name, slug=slug)
    assert error.value.message_dict == {"slug": ["The slug 'clinic-a' is already taken by another organization."]}
    assert row_counts() == counts


@pytest.mark.django_db
def test_create_organization_validates_its_other_fields():
    counts = row_counts()
    for kwargs, field in [
        ({"name": "  "}, "name"),
        ({"name": "Clinic", "slug": "!!!"}, "slug"),
        ({"name": "Clinic", "data_retention_days": 0}, "data_retention_days"),
    ]:
        with pytest.raises(ValidationError) as error:
            services.create_organization(acting_user=None, **kwargs)
        assert set(error.value.message_dict) == {field}
    assert row_counts() == counts
    organization = services.create_organization(acting_user=None, name="Northside Clinic")
    assert (organization.slug, organization.status, organization.data_retention_days) == (
        "northside-clinic", Organization.Status.ACTIVE, 2555,
    )


# --- settings -----------------------------------------------------------------------------------------
def test_org_admin_changes_the_retention(tenant_a):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    page = admin.get(reverse("accounts:settings"))
    assert 'value="2555"' in page.content.decode()
    response = admin.post(reverse("accounts:settings"), {"data_retention_days": "3650"}, follow=True)
    assert "Settings saved." in page_text(response)
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.data_retention_days == 3650
    assert tenant_a.organization.require_consent_for_assessment is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-5", "Ensure this value is greater than or equal to 1."),
        ("seven years", "Enter a whole number."),
        ("", "This field is required."),
        ("99999999999", "Ensure this value is less than or equal to 36500."),
    ],
    ids=["zero", "negative", "text", "empty", "huge"],
)
def test_settings_reject_bad_retention(tenant_a, value, message):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    response = admin.post(
        reverse("accounts:settings"), {"data_retention_days": value, "require_consent_for_assessment": "on"}
    )
    assert response.status_code == 400
    assert message in page_text(response)
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.data_retention_days == 2555
    # The page shows the person's input back with the error, and the organization stays as it was.
    assert response.context["form"].errors["data_retention_days"]


def test_the_settings_service_refuses_zero_retention(tenant_a):
    with pytest.raises(ValidationError):
        services.update_organization_settings(
            acting_user=None,
            organization=tenant_a.organization,
            data_retention_days=0,
            require_consent_for_assessment=True,
        )
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.data_retention_days == 2555


# --- the organization switcher ------------------------------------------------------------------------
@pytest.fixture
def two_org_client(tenant_a, tenant_b):
    """A's clinician, who is also an auditor in B, signed in with A active."""
    MembershipFactory(organization=tenant_b.organization, user=tenant_a.users[Role.CLINICIAN], role=Role.AUDITOR)
    return tenant_a.client_for(Role.CLINICIAN)


def test_switching_organization_changes_what_the_dashboard_shows(two_org_client, tenant_a, tenant_b):
    dashboard = two_org_client.get(reverse("portal:dashboard"))
    assert dashboard.context["active_organization"] == tenant_a.organization
    assert "You are signed in as Clinician." in page_text(dashboard)
    # The switcher lists both organizations.
    assert 'name="organization"' in dashboard.content.decode()
    assert {m.organization.slug for m in dashboard.context["memberships"]} == {"clinic-a", "clinic-b"}

    response = two_org_client.post(reverse("accounts:switch_organization"), {"organization": "clinic-b"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    dashboard = two_org_client.get(reverse("portal:dashboard"))
    assert dashboard.context["active_organization"] == tenant_b.organization
    assert "<h1>Clinic B</h1>" in dashboard.content.decode()
    assert "You are now working in Clinic B." in page_text(dashboard)
    assert "You are signed in as Auditor." in page_text(dashboard)
    assert two_org_client.session[SESSION_KEY] == tenant_b.organization.pk


def test_switching_to_an_organization_you_are_not_a_member_of_is_404(two_org_client, tenant_a):
    OrganizationFactory(slug="clinic-c", name="Clinic C")
    for slug in ("clinic-c", "no-such-clinic", ""):
        response = two_org_client.post(reverse("accounts:switch_organization"), {"organization": slug})
        assert response.status_code == 404, slug
    assert two_org_client.session[SESSION_KEY] == tenant_a.organization.pk
    assert two_org_client.get(reverse("portal:dashboard")).context["active_organization"] == tenant_a.organization


def test_switching_needs_a_post_and_a_signed_in_user(two_org_client, client, tenant_a):
    assert two_org_client.get(reverse("accounts:switch_organization"), {"organization": "clinic-b"}).status_code == 405
    response = client.post(reverse("accounts:switch_organization"), {"organization": "clinic-a"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_stale_active_organization_falls_back_to_a_valid_one(two_org_client, tenant_a, tenant_b):
    session = two_org_client.session
    session[SESSION_KEY] = OrganizationFactory(slug="clinic-c").pk  # not a member there
    session.save()
    dashboard = two_org_client.get(reverse("portal:dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["active_organization"] in (tenant_a.organization, tenant_b.organization)
    assert dashboard.context["active_organization"].slug != "clinic-c"
