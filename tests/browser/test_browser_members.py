"""Members page: inviting someone who then joins through the emailed link, and changing roles."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from accounts.models import Membership
from accounts.roles import Role
from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "violet harbour lantern 93"


def _open_members_from_sidebar(page):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")


@pytest.mark.browser
def test_invited_technician_joins_through_the_emailed_link(page, browser, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    admin = tenant.users["org_admin"]
    new_email = "new.technician@clinic-a.example.org"

    sign_in(page, admin.email, password)
    _open_members_from_sidebar(page)
    expect(page).to_have_url(f"{live_server.url}/members/")
    expect(page.get_by_text("No open invitations.")).to_be_visible()

    page.get_by_label("Email address").fill(new_email)
    page.get_by_label("Role", exact=True).select_option(label="Technician")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("status")).to_have_text(f"Invitation sent to {new_email}.")
    invitations = page.get_by_role("table", name="Invitations not yet accepted")
    row = invitations.get_by_role("row").filter(has_text=new_email)
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(1)).to_have_text("Technician")
    expect(row.get_by_role("cell").nth(2)).to_have_text(admin.email)

    assert len(mail.outbox) == 1
    message = mail.outbox[-1]
    assert message.to == [new_email]
    link = re.search(r"https?://\S+/invitations/accept/\S+/", message.body).group(0)
    # The email names the configured public address; this test's server listens elsewhere.
    accept_url = live_server.url + urlsplit(link).path

    # The invitee has no session of the admin's: a fresh browser context, as on another computer.
    invitee_context = browser.new_context()
    try:
        invitee = invitee_context.new_page()
        invitee.set_default_timeout(10_000)
        invitee.goto(accept_url)
        expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Clinic A")
        expect(invitee.get_by_role("main")).to_contain_text(
            f"You were invited as Technician with the address {new_email}"
        )

        invitee.get_by_label("Full name").fill("Tess Technician")
        invitee.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        invitee.get_by_label("Confirm password").fill(NEW_PASSWORD)
        invitee.get_by_role("button", name="Create my account").click()

        expect(invitee).to_have_url(re.compile(r"/accounts/login/$"))
        expect(invitee.get_by_role("status")).to_have_text(
            "Your account is ready. Sign in with your email and password."
        )

        sign_in(invitee, new_email, NEW_PASSWORD)
        expect(invitee).to_have_url(f"{live_server.url}/")
        expect(invitee.get_by_role("heading", level=1)).to_have_text("Clinic A")
        expect(invitee.get_by_text("You are signed in as Technician.")).to_be_visible()

        sidebar = invitee.get_by_role("navigation", name="Main")
        expect(sidebar.get_by_role("link", name="Dashboard")).to_be_visible()
        for admin_only in ("Members", "Audit log", "API clients"):
            expect(sidebar.get_by_role("link", name=admin_only)).to_have_count(0)
        # And the page itself is refused, not merely unlinked.
        response = invitee.goto(f"{live_server.url}/members/")
        assert response.status == 403

        # The link worked once: opening it again does not offer a second account.
        invitee.goto(accept_url)
        expect(invitee.get_by_role("button", name="Create my account")).to_have_count(0)
    finally:
        invitee_context.close()

    # The admin sees the new member and no open invitation any more.
    page.reload()
    members = page.get_by_role("table", name="Members of Clinic A")
    new_row = members.get_by_role("row").filter(has_text=new_email)
    expect(new_row.get_by_role("cell").first).to_have_text("Tess Technician")
    expect(new_row.get_by_role("cell").nth(2)).to_have_text("Technician")
    expect(page.get_by_text("No open invitations.")).to_be_visible()


@pytest.mark.browser
def test_org_admin_changes_a_role_but_cannot_demote_the_last_admin(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    admin, clinician = tenant.users["org_admin"], tenant.users["clinician"]

    sign_in(page, admin.email, password)
    _open_members_from_sidebar(page)
    members = page.get_by_role("table", name="Members of Clinic A")

    clinician_row = members.get_by_role("row").filter(has_text=clinician.email)
    clinician_row.get_by_label(f"Role of {clinician.email}").select_option(label="Auditor")
    clinician_row.get_by_role("button", name="Change…").click()

    # A confirmation page asks first; nothing has changed yet.
    expect(page.get_by_role("heading", level=1)).to_have_text("Change role")
    expect(page.get_by_role("main")).to_contain_text(f"Change the role of {clinician.email} from Clinician to Auditor?")
    with scopes_disabled():
        assert Membership.objects.get(user=clinician).role == Role.CLINICIAN
    page.get_by_role("button", name="Make them Auditor").click()

    expect(page.get_by_role("status")).to_have_text(f"{clinician.email} is now Auditor.")
    expect(page.locator(".message-success")).to_have_count(1)
    clinician_row = members.get_by_role("row").filter(has_text=clinician.email)
    expect(clinician_row.get_by_role("cell").nth(2)).to_have_text("Auditor")
    expect(clinician_row.get_by_label(f"Role of {clinician.email}")).to_have_value(Role.AUDITOR)
    with scopes_disabled():
        assert Membership.objects.get(user=clinician).role == Role.AUDITOR

    # The only admin tries to demote themself, this time with the keyboard.
    admin_row = members.get_by_role("row").filter(has_text=admin.email)
    admin_select = admin_row.get_by_label(f"Role of {admin.email}")
    admin_select.select_option(label="Clinician")
    admin_select.focus()
    page.keyboard.press("Tab")
    expect(admin_row.get_by_role("button", name="Change…")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Change role")
    page.get_by_role("button", name="Make them Clinician").click()

    expect(page.locator(".message-error")).to_have_text(
        "This is the organization's last admin: make someone else admin first."
    )
    expect(page.locator(".message-success")).to_have_count(0)
    admin_row = members.get_by_role("row").filter(has_text=admin.email)
    expect(admin_row.get_by_role("cell").nth(2)).to_have_text("Organization admin")
    expect(admin_row.get_by_label(f"Role of {admin.email}")).to_have_value(Role.ORG_ADMIN)
    with scopes_disabled():
        assert Membership.objects.get(user=admin).role == Role.ORG_ADMIN
    # Still an admin in fact: the Members link is still there.
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Members")).to_be_visible()


@pytest.mark.browser
def test_org_admin_removes_a_member_after_confirming(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    admin, technician = tenant.users["org_admin"], tenant.users["technician"]
    sign_in(page, admin.email, password)
    _open_members_from_sidebar(page)
    members = page.get_by_role("table", name="Members of Clinic A")
    members.get_by_role("row").filter(has_text=technician.email).get_by_role("link", name="Remove").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Remove member")
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    with scopes_disabled():
        assert Membership.objects.filter(user=technician).exists()

    members.get_by_role("row").filter(has_text=technician.email).get_by_role("link", name="Remove").click()
    page.get_by_role("button", name="Remove access").click()
    expect(page.get_by_role("status")).to_have_text(f"{technician.email} no longer has access to this organization.")
    with scopes_disabled():
        assert not Membership.objects.filter(user=technician).exists()


@pytest.mark.browser
def test_resend_shows_the_new_link_once_and_copies_it(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    admin = tenant.users["org_admin"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, admin.email, password)
    _open_members_from_sidebar(page)
    page.get_by_label("Email address").fill("slow.reader@clinic-a.example.org")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_role("button", name="Resend the invitation of slow.reader@clinic-a.example.org with a new link").click()

    link = page.get_by_label("Invitation link")
    expect(link).to_have_value(re.compile(r"/invitations/accept/[A-Za-z0-9_-]+/$"))
    assert link.input_value() in mail.outbox[-1].body
    # The button works once its deferred script has run: the field is on the page before that, and a click
    # that came first did nothing (failed once in CI with two test processes sharing the cores).
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    # The page's Permissions-Policy forbids scripts to read the clipboard: paste it as a person would.
    pasted = page.get_by_label("Email address")
    pasted.fill("")
    pasted.focus()
    page.keyboard.press("Control+V")
    expect(pasted).to_have_value(link.input_value())
