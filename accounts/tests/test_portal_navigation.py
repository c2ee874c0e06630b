"""Where people find the admin pages: Settings in the navigation for org admins only; and a platform admin
with no clinic of their own is told so and pointed to platform administration."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from medilens.testing.factories import UserFactory

from .helpers import page_text


def _nav(response) -> str:
    body = response.content.decode()
    return body[body.index('<nav class="sidebar"'):body.index("</nav>")]


def test_org_admins_find_settings_in_the_navigation(tenant_a):
    nav = _nav(tenant_a.client_for(Role.ORG_ADMIN).get(reverse("portal:dashboard")))
    assert f'href="{reverse("accounts:settings")}"' in nav and ">Settings<" in nav


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.TECHNICIAN, Role.AUDITOR])
def test_other_roles_do_not_see_settings(tenant_a, role):
    nav = _nav(tenant_a.client_for(role).get(reverse("portal:dashboard")))
    assert reverse("accounts:settings") not in nav


def test_the_settings_link_is_marked_current_on_its_page(tenant_a):
    nav = _nav(tenant_a.client_for(Role.ORG_ADMIN).get(reverse("accounts:settings")))
    assert f'href="{reverse("accounts:settings")}" aria-current="page"' in nav


@pytest.mark.django_db
def test_a_platform_admin_without_a_clinic_is_told_so_and_linked_to_administration():
    admin = UserFactory(email="platform@example.org", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.get(reverse("portal:dashboard"))
    text = page_text(response)
    assert "You are not a member of any clinic" in text
    assert "suspended" not in text
    assert f'href="{reverse("admin:index")}"' in response.content.decode()


@pytest.mark.django_db
def test_someone_removed_from_every_clinic_is_not_told_about_suspension():
    client = Client()
    client.force_login(UserFactory(email="removed@example.org"))
    text = page_text(client.get(reverse("portal:dashboard")))
    assert "you may have been removed" in text and "suspended" not in text
    assert "platform administration" not in text
