"""Full-page screenshots of the portal shell, for a person to look at (test-results/screenshots/).

The pages are filled with realistic rows first, so tables, badges and messages are all on screen.
"""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from accounts import services
from accounts.models import Membership
from accounts.roles import Role
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _shoot(page, directory, name: str) -> None:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def _page_scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


@pytest.mark.browser
def test_screenshots_of_the_portal_shell(page, live_server, password, sign_in, screenshot_dir):
    tenant = build_tenant("clinic-a")
    admin = tenant.users["org_admin"]
    services.invite(acting_user=admin, organization=tenant.organization, email="locum@example.org", role="clinician")
    with scopes_disabled():
        membership = Membership.objects.get(organization=tenant.organization, user=tenant.users["technician"])
    services.change_role(
        acting_user=admin, organization=tenant.organization, membership=membership, role=Role.CLINICIAN
    )

    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    _shoot(page, screenshot_dir, "login")

    sign_in(page, admin.email, password + "x")
    expect(page.get_by_role("alert")).to_be_visible()
    _shoot(page, screenshot_dir, "login-error")

    sign_in(page, admin.email, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic A")
    _shoot(page, screenshot_dir, "dashboard")

    sidebar = page.get_by_role("navigation", name="Main")
    sidebar.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    _shoot(page, screenshot_dir, "members")

    # The members page with a form error and a refusal message on screen.
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".field-error")).to_be_visible()
    _shoot(page, screenshot_dir, "members-invite-error")

    sidebar.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    _shoot(page, screenshot_dir, "audit-log")

    sidebar.get_by_role("link", name="API clients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API clients")
    _shoot(page, screenshot_dir, "api-clients")

    page.get_by_label("Client name").fill("Partner lab")
    page.get_by_role("button", name="Create client and show its key").click()
    expect(page.get_by_label("API key")).to_be_visible()
    _shoot(page, screenshot_dir, "api-clients-new-key")

    # A phone-sized viewport: wide tables scroll inside their card, the page itself never sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    for path, heading, name in [
        ("/members/", "Members", "members-mobile"),
        ("/", "Clinic A", "dashboard-mobile"),
        ("/audit/", "Audit log", "audit-log-mobile"),
        ("/api-clients/", "API clients", "api-clients-mobile"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        _shoot(page, screenshot_dir, name)
        assert not _page_scrolls_sideways(page), f"{path} is wider than a phone screen"
