"""The organization switcher in the top bar, for a user who belongs to two organizations."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from medilens.testing.factories import MembershipFactory
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_switcher_moves_between_the_two_organizations_of_one_user(page, live_server, password, sign_in):
    clinic_a, clinic_b = build_tenant("clinic-a"), build_tenant("clinic-b")
    user = clinic_a.users["clinician"]
    MembershipFactory(organization=clinic_b.organization, user=user, role=Role.AUDITOR)

    sign_in(page, user.email, password)
    # A clinician lands on the review worklist; the switcher is on every page, the dashboard names the clinic.
    page.goto(f"{live_server.url}/")

    heading = page.get_by_role("heading", level=1)
    sidebar = page.get_by_role("navigation", name="Main")
    switcher = page.get_by_role("banner").get_by_label("Organization")
    expect(heading).to_have_text("Clinic A")
    expect(switcher).to_have_value("clinic-a")
    expect(switcher.get_by_role("option")).to_have_text(["Clinic A — Clinician", "Clinic B — Auditor"])
    expect(sidebar.get_by_role("link", name="Audit log")).to_have_count(0)

    switcher.select_option(label="Clinic B — Auditor")
    page.get_by_role("button", name="Switch").click()

    expect(page.get_by_role("status")).to_have_text("You are now working in Clinic B.")
    expect(heading).to_have_text("Clinic B")
    expect(page.get_by_text("You are signed in as Auditor.")).to_be_visible()
    expect(switcher).to_have_value("clinic-b")
    # The role follows the organization: an auditor of Clinic B reads its audit log.
    expect(sidebar.get_by_role("link", name="Audit log")).to_be_visible()
    # The choice sticks for the rest of the session.
    page.goto(f"{live_server.url}/audit/")
    expect(heading).to_have_text("Audit log")
    page.goto(f"{live_server.url}/")
    expect(heading).to_have_text("Clinic B")

    # And back, this time with the keyboard.
    switcher.focus()
    page.keyboard.press("ArrowUp")
    expect(switcher).to_have_value("clinic-a")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Switch")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text("You are now working in Clinic A.")
    expect(heading).to_have_text("Clinic A")
    expect(sidebar.get_by_role("link", name="Audit log")).to_have_count(0)
    assert page.goto(f"{live_server.url}/audit/").status == 403
