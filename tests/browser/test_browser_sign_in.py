"""Signing in and out, and reaching the login form and the page with the keyboard alone."""

import re

import pytest
from playwright.sync_api import expect

from medilens.testing.fixtures import build_tenant

pytestmark = pytest.mark.django_db(transaction=True)

GENERIC_LOGIN_ERROR = "That email and password do not match an account."


@pytest.mark.browser
def test_sign_in_shows_the_dashboard_and_sign_out_returns_to_the_login_page(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    user = tenant.users["clinician"]

    sign_in(page, user.email, password)

    # A clinician's day starts at the results waiting for sign-off (accounts.views.LoginView.ROLE_LANDING).
    expect(page).to_have_url(f"{live_server.url}/assessments/review/")
    expect(page.get_by_role("heading", level=1)).to_have_text("To review")
    expect(page.get_by_role("banner")).to_contain_text(user.email)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="To review")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic A")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Sign in to MediLens")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # Signed out for real: the dashboard now sends the browser back to the login form.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


@pytest.mark.browser
def test_wrong_password_and_unknown_email_show_the_same_generic_error(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    user = tenant.users["clinician"]

    sign_in(page, user.email, password + " but wrong")

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(GENERIC_LOGIN_ERROR)
    # The email stays filled in; the password does not.
    expect(page.get_by_label("Email")).to_have_value(user.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    sign_in(page, "nobody@clinic-a.example.org", password)
    expect(page.get_by_role("alert")).to_have_text(GENERIC_LOGIN_ERROR)

    sign_in(page, user.email, password)
    expect(page).to_have_url(f"{live_server.url}/assessments/review/")
    expect(page.get_by_role("heading", level=1)).to_have_text("To review")


@pytest.mark.browser
def test_first_tab_focuses_the_skip_link_which_moves_focus_to_main(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    sign_in(page, tenant.users["org_admin"].email, password)
    page.goto(f"{live_server.url}/members/")

    skip_link = page.get_by_role("link", name="Skip to main content")
    hidden_box = skip_link.bounding_box()
    assert hidden_box["y"] + hidden_box["height"] <= 0, "the skip link should sit off-screen until focused"

    page.keyboard.press("Tab")

    expect(skip_link).to_be_focused()
    shown_box = skip_link.bounding_box()
    assert shown_box["y"] >= 0 and shown_box["height"] > 0, "the focused skip link should be on screen"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/members/#main$"))
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues inside the main content, not back in the top bar or sidebar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


@pytest.mark.browser
def test_login_form_can_be_completed_with_the_keyboard_only(page, live_server, password):
    tenant = build_tenant("clinic-a")
    user = tenant.users["technician"]
    page.goto(f"{live_server.url}/accounts/login/")

    # The email field has autofocus: a keyboard user starts typing straight away.
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic A")
