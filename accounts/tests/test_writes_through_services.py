"""Admin and the demo seeding write accounts through the services, so each change carries the service's
rules and its audit event: creating a user, deactivating one, changing an organization's settings,
setting a password."""

import json
import re
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from accounts import services
from accounts.management.commands.seed_demo import Command as SeedDemo
from accounts.models import User
from accounts.roles import Role
from audit.models import AuditEvent


@pytest.fixture
def staff_user(db, password):
    return User.objects.create_superuser("platform@medilens.example.org", password, full_name="Platform Admin")


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def _events(action, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters))


def _add_user(staff, **fields):
    """Post admin's add-user form with the hidden fields its page carries (the inline's management form)."""
    page = staff.get("/admin/accounts/user/add/").content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    hidden.pop("csrfmiddlewaretoken", None)
    return staff.post("/admin/accounts/user/add/", hidden | fields)


# --- admin -------------------------------------------------------------------------------------------
def test_admin_creates_a_user_through_the_service(staff, staff_user):
    response = _add_user(
        staff,
        email="New.Person@Example.org",
        full_name="New Person",
        usable_password="true",
        password1="a long enough passphrase 7",
        password2="a long enough passphrase 7",
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="new.person@example.org")
    assert user.check_password("a long enough passphrase 7")
    [event] = _events("user.created", target_id=str(user.pk))
    assert event.actor_user_id == staff_user.pk and event.organization_id is None
    assert event.details == {"staff": False, "superuser": False, "usable_password": True}


def test_admin_creates_a_user_without_a_password(staff):
    response = _add_user(staff, email="nopass@example.org", full_name="No Pass", usable_password="false")
    assert response.status_code == 302
    user = User.objects.get(email="nopass@example.org")
    assert not user.has_usable_password()
    assert _events("user.created", target_id=str(user.pk))[0].details["usable_password"] is False


def test_admin_deactivates_users_through_the_service(staff, staff_user, tenant_a):
    clinician = tenant_a.users[Role.CLINICIAN]
    response = staff.post(
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [clinician.pk, staff_user.pk]},
    )
    assert response.status_code == 302
    clinician.refresh_from_db()
    staff_user.refresh_from_db()
    assert not clinician.is_active
    assert staff_user.is_active, "staff never deactivate themselves"
    [event] = _events("user.deactivated")
    assert event.target_id == str(clinician.pk) and event.actor_user_id == staff_user.pk
    # Deactivated: the account's open session ends at its next request.
    assert tenant_a.client_for(Role.CLINICIAN).get("/").status_code == 302


def test_the_deactivation_service_refuses_the_acting_user_and_is_quiet_on_a_repeat(staff_user, tenant_a):
    with pytest.raises(ValidationError, match="your own account"):
        services.deactivate_user(acting_user=staff_user, user=staff_user)
    clinician = tenant_a.users[Role.CLINICIAN]
    services.deactivate_user(acting_user=staff_user, user=clinician)
    services.deactivate_user(acting_user=staff_user, user=clinician)
    assert len(_events("user.deactivated")) == 1


def test_admin_changes_an_organization_through_the_settings_service(staff, staff_user, tenant_a):
    organization = tenant_a.organization
    response = staff.post(
        f"/admin/accounts/organization/{organization.pk}/change/",
        {
            "name": "Clinic A Renamed",
            "slug": "clinic-a",
            "data_retention_days": "3650",
            # The box left unticked: consent was required (the default), now it is not.
        },
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert (organization.name, organization.data_retention_days) == ("Clinic A Renamed", 3650)
    [event] = _events("organization.settings_changed", organization=organization)
    assert event.actor_user_id == staff_user.pk
    assert set(event.details["fields"]) == {"name", "data_retention_days", "require_consent_for_assessment"}


def test_the_settings_service_refuses_a_taken_or_empty_slug(staff_user, tenant_a, tenant_b):
    for slug, message in (("Clinic-B", "already taken"), ("!!!", "letters or digits")):
        with pytest.raises(ValidationError, match=message):
            services.update_organization_settings(
                acting_user=staff_user, organization=tenant_a.organization, slug=slug,
                data_retention_days=30, require_consent_for_assessment=False,
            )
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.slug == "clinic-a" and tenant_a.organization.data_retention_days != 30


def test_create_user_refuses_bad_input_and_changes_nothing(staff_user):
    services.create_user(acting_user=staff_user, email="taken@example.org", full_name="Taken", password=None)
    users = User.objects.count()
    for kwargs, message in (
        ({"email": "TAKEN@example.org"}, "already exists"),
        ({"email": "not an address"}, "valid email"),
        ({"password": "short"}, "too short"),
    ):
        arguments = {"email": "fresh@example.org", "full_name": "Fresh", "password": "a long enough passphrase 7"}
        with pytest.raises(ValidationError, match=message):
            services.create_user(acting_user=staff_user, **(arguments | kwargs))
    assert User.objects.count() == users
    assert len(_events("user.created")) == 1


# --- the demo seeding --------------------------------------------------------------------------------
def test_seed_demo_creates_and_resets_accounts_through_the_services(tmp_path, settings, db):
    settings.VAR_DIR = tmp_path
    # The clinical part (patients, assessments on the worker) is not what this test is about.
    with mock.patch.object(SeedDemo, "_seed_clinical_data"):
        call_command("seed_demo", stdout=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
        credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
        emails = [credentials["platform_admin"]["email"]] + [
            login["email"] for organization in credentials["organizations"] for login in organization["logins"]
        ]
        created = {event.target_id for event in _events("user.created", actor_label="system:seed_demo")}
        assert created == {str(pk) for pk in User.objects.filter(email__in=emails).values_list("pk", flat=True)}
        assert User.objects.get(email=emails[0]).is_superuser

        # A password that no longer matches is replaced, through the service.
        credentials["platform_admin"]["password"] = "not the stored one at all"
        (tmp_path / "demo-credentials.json").write_text(json.dumps(credentials))
        call_command("seed_demo", stdout=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    [event] = _events("user.password_set")
    assert event.target_id == str(User.objects.get(email=emails[0]).pk)
    assert len(_events("user.created")) == len(emails)
