"""Multi-factor sign-in in Chromium: an org admin without a factor is sent to enrol an authenticator app
(QR code drawn on the server) and then signs in with its codes; a passkey registered in Chromium's virtual
authenticator (CDP WebAuthn) signs in without a password.

WebAuthn needs a secure context and a relying-party id that is a host name: the tests browse
http://localhost:PORT, never the IP address."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from accounts.roles import Role
from audit.models import AuditEvent
from medilens.testing.factories import MembershipFactory, UserFactory
from medilens.testing.fixtures import build_tenant
from medilens.testing.mfa import totp_code, unused_totp_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _localhost(live_server) -> str:
    return re.sub(r"^http://[^:/]+", "http://localhost", live_server.url)


def _sign_in_with_password(page, base, email, password):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in", exact=True).click()


def test_an_org_admin_enrols_an_authenticator_app_and_signs_in_with_it(page, live_server, password):
    base = _localhost(live_server)
    tenant = build_tenant("clinic-a")
    admin = UserFactory(email="new.admin@clinic-a.example.org")
    MembershipFactory(organization=tenant.organization, user=admin, role=Role.ORG_ADMIN)

    _sign_in_with_password(page, base, admin.email, password)
    # Not enrolled: every page leads to the second-factor page, which says why.
    expect(page).to_have_url(f"{base}/accounts/2fa/")
    expect(page.get_by_role("status")).to_contain_text("Your role requires a second factor")
    page.goto(f"{base}/members/")
    expect(page).to_have_url(f"{base}/accounts/2fa/")

    page.get_by_role("link", name="Activate").click()
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(page.get_by_label("QR code for your authenticator app").locator("svg")).to_be_visible()
    secret = page.get_by_label("Or type this key into the app").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)

    page.get_by_label("Code from the app").fill("000000" if totp_code(secret) != "000000" else "000001")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect code")

    page.get_by_label("Code from the app").fill(totp_code(secret, good_for=10))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    page.goto(f"{base}/members/")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    assert AuditEvent.objects.filter(action="mfa.enrolled", actor_user=admin, details__factor="totp").exists()

    # Signed out and in again: the password, then the app's code.
    page.get_by_role("button", name="Sign out").click()
    _sign_in_with_password(page, base, admin.email, password)
    expect(page).to_have_url(f"{base}/accounts/2fa/authenticate/")
    page.get_by_label("Authentication code").fill("999999" if totp_code(secret) != "999999" else "999998")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")
    page.get_by_label("Authentication code").fill(unused_totp_code(admin))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_role("banner")).to_contain_text(admin.email)
    assert AuditEvent.objects.filter(action="mfa.failed", target_id=str(admin.pk)).count() == 1


def _virtual_authenticator(page):
    """Chromium's virtual authenticator: a platform passkey store that verifies the user (as a fingerprint
    reader would) without a prompt."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    created = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, created["authenticatorId"]


def test_a_passkey_registered_in_the_browser_signs_in_without_a_password(page, live_server, password):
    base = _localhost(live_server)
    tenant = build_tenant("clinic-a")
    admin = tenant.users[Role.ORG_ADMIN]
    cdp, authenticator_id = _virtual_authenticator(page)

    _sign_in_with_password(page, base, admin.email, password)
    page.get_by_label("Authentication code").fill(unused_totp_code(admin))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{base}/")

    page.goto(f"{base}/accounts/2fa/webauthn/add/")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/"))
    expect(page).not_to_have_url(re.compile(r"/webauthn/add/"))
    passkey = Authenticator.objects.get(user=admin, type=Authenticator.Type.WEBAUTHN)
    assert passkey.wrap().is_passwordless is True  # a discoverable credential (resident key)
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1
    assert AuditEvent.objects.filter(action="mfa.enrolled", actor_user=admin, details__factor="webauthn").exists()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    with page.expect_navigation(url=f"{base}/"):
        page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("banner")).to_contain_text(admin.email)
    page.goto(f"{base}/members/")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    assert AuditEvent.objects.filter(action="auth.login", actor_user=admin).count() == 2
