"""Multi-factor sign-in: the second step (TOTP, recovery codes) with wrong, reused and expired codes refused
and counted with the password's failures, enrolment with a server-drawn QR code, who must have a factor
(org admins, platform staff, every member when the organization says so), and resets by org admins and
platform staff, all audited."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.mfa.forms import WRONG_CODE
from accounts.models import Membership, User
from accounts.roles import Role
from accounts.tenancy import scopes_disabled
from audit.models import AuditEvent
from medilens.testing.factories import MembershipFactory, UserFactory
from medilens.testing.mfa import totp_code, totp_secret_of

from .helpers import alert_text, page_text

LOGIN = "/accounts/login/"
SECOND_STEP = "/accounts/2fa/authenticate/"
ADMIN_EMAIL = "org_admin@clinic-a.example.org"


def _password_step(client, email, password, ip="10.1.0.1"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _code_step(client, code, ip="10.1.0.1"):
    return client.post(SECOND_STEP, {"code": code}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- the second step -----------------------------------------------------------------------------------
def test_an_org_admin_signs_in_with_password_then_code(tenant_a, password):
    client = Client()
    response = _password_step(client, ADMIN_EMAIL, password)
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    assert not _signed_in(client)
    # The portal is still closed: the second step is pending.
    assert client.get(reverse("portal:dashboard")).status_code == 302
    page = client.get(SECOND_STEP)
    assert page.status_code == 200 and "Authentication code" in page_text(page)

    response = _code_step(client, totp_code(tenant_a.totp_secrets[Role.ORG_ADMIN]))
    assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
    assert client.session["_auth_user_id"] == str(tenant_a.users[Role.ORG_ADMIN].pk)
    assert client.get(reverse("accounts:members")).status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_user=tenant_a.users[Role.ORG_ADMIN]).count() == 1


def test_a_member_without_a_factor_signs_in_with_the_password_alone(tenant_a, password):
    client = Client()
    response = _password_step(client, "clinician@clinic-a.example.org", password)
    # A clinician lands on the review worklist (accounts.views.LoginView.ROLE_LANDING).
    assert response.status_code == 302 and response["Location"] == reverse("assessments:review")
    assert _signed_in(client)


@pytest.mark.parametrize(
    "wrong", ["000000", "12345", "not a code", ""], ids=["wrong-digits", "too-short", "letters", "empty"]
)
def test_a_wrong_code_is_refused_with_a_clear_message_and_audited(tenant_a, password, wrong):
    client = Client()
    _password_step(client, ADMIN_EMAIL, password)
    secret = tenant_a.totp_secrets[Role.ORG_ADMIN]
    if wrong == "000000" and totp_code(secret) == wrong:
        wrong = "000001"
    response = _code_step(client, wrong)
    assert response.status_code == 200
    assert not _signed_in(client)
    if wrong:
        assert alert_text(response) == WRONG_CODE
        event = AuditEvent.objects.get(action="mfa.failed")
        assert event.outcome == AuditEvent.Outcome.FAILURE
        assert event.target_id == str(tenant_a.users[Role.ORG_ADMIN].pk)
        assert wrong not in str(event.details)
    else:
        assert "required" in alert_text(response).lower()


def test_a_used_code_is_refused_the_second_time(tenant_a, password):
    # Both sign-ins within the code's own period.
    code = totp_code(tenant_a.totp_secrets[Role.ORG_ADMIN], good_for=5)
    first = Client()
    _password_step(first, ADMIN_EMAIL, password)
    assert _code_step(first, code).status_code == 302
    # Someone who watched the code being typed, with the password, within the same 30 seconds:
    second = Client()
    _password_step(second, ADMIN_EMAIL, password, ip="10.1.0.2")
    response = _code_step(second, code, ip="10.1.0.2")
    assert response.status_code == 200 and alert_text(response) == WRONG_CODE
    assert not _signed_in(second)


def test_an_expired_code_is_refused(tenant_a, password):
    expired = totp_code(tenant_a.totp_secrets[Role.ORG_ADMIN], at=time.time() - 60)
    if expired == totp_code(tenant_a.totp_secrets[Role.ORG_ADMIN]):
        pytest.skip("the code of a minute ago is, by chance, the current one")
    client = Client()
    _password_step(client, ADMIN_EMAIL, password)
    response = _code_step(client, expired)
    assert response.status_code == 200 and alert_text(response) == WRONG_CODE
    assert not _signed_in(client)


def test_wrong_codes_count_toward_the_password_lockout(tenant_a, password):
    """Two wrong passwords and three wrong codes make the five failures that lock the account from this
    address; then even the right password and code are refused there."""
    client = Client()
    for _ in range(2):
        assert _password_step(client, ADMIN_EMAIL, "not the password 123").status_code == 200
    assert _password_step(client, ADMIN_EMAIL, password).status_code == 302
    statuses = [_code_step(client, "000000" if totp_code(tenant_a.totp_secrets["org_admin"]) != "000000"
                           else "000001").status_code for _ in range(settings.AXES_FAILURE_LIMIT - 2)]
    assert statuses == [200, 200, 429]
    assert AuditEvent.objects.filter(action="auth.lockout").exists()

    response = _code_step(client, totp_code(tenant_a.totp_secrets[Role.ORG_ADMIN]))
    assert response.status_code == 429 and "Too many failed sign-ins" in page_text(response)
    assert not _signed_in(client)
    fresh = Client()
    response = _password_step(fresh, ADMIN_EMAIL, password)
    assert response.status_code == 429
    # From another address the account is not locked.
    other = Client()
    assert _password_step(other, ADMIN_EMAIL, password, ip="10.1.0.9")["Location"] == SECOND_STEP


def test_a_recovery_code_signs_in_once(tenant_a, password):
    user = tenant_a.users[Role.ORG_ADMIN]
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    codes = RecoveryCodes(recovery).get_unused_codes()
    client = Client()
    _password_step(client, ADMIN_EMAIL, password)
    assert _code_step(client, codes[0]).status_code == 302 and _signed_in(client)

    again = Client()
    _password_step(again, ADMIN_EMAIL, password)
    response = _code_step(again, codes[0])
    assert response.status_code == 200 and alert_text(response) == WRONG_CODE


def test_the_second_step_cannot_be_opened_without_a_right_password(tenant_a):
    response = Client().get(SECOND_STEP)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


# --- enrolment -----------------------------------------------------------------------------------------
def _new_org_admin(tenant, email="second.admin@clinic-a.example.org"):
    user = UserFactory(email=email)
    MembershipFactory(organization=tenant.organization, user=user, role=Role.ORG_ADMIN)
    return user


def test_an_org_admin_without_a_factor_reaches_only_enrolment(tenant_a, password):
    user = _new_org_admin(tenant_a)
    client = Client()
    response = _password_step(client, user.email, password)
    assert response.status_code == 302 and _signed_in(client)
    for url in (reverse("portal:dashboard"), reverse("accounts:members"), "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_index"), url
    page = client.get(reverse("mfa_index"), follow=False)
    assert page.status_code == 200
    assert "Your role requires a second factor" in page_text(page)


# Committed for real: allauth announces a new factor on commit, and the session must learn of it in the
# same request, as in production.
@pytest.mark.django_db(transaction=True)
def test_totp_enrolment_shows_a_server_drawn_qr_code_and_is_audited(tenant_a, password):
    user = _new_org_admin(tenant_a)
    client = Client()
    _password_step(client, user.email, password)
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    body = page.content.decode()
    main = body.split("<main", 1)[1]
    # Drawn on the server as inline SVG: no image URL (which a CDN or img-src policy would govern), no script.
    assert "<svg" in main and "<path" in main and "data:image" not in main and "<script" not in main
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7]+)"', body).group(1)

    response = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp_code(secret) != "000000" else "1"})
    assert response.status_code == 200 and not Authenticator.objects.filter(user=user).exists()

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert totp_secret_of(user) == secret
    # The session that enrolled counts as signed in with the factor: the portal opens.
    assert client.get(reverse("accounts:members")).status_code == 200
    enrolled = AuditEvent.objects.filter(action="mfa.enrolled", actor_user=user)
    assert sorted(enrolled.values_list("details__factor", flat=True)) == ["recovery_codes", "totp"]


def test_platform_staff_must_enrol_before_using_admin(db, password):
    staff = User.objects.create_superuser("root@platform.example.org", password, full_name="Root")
    client = Client()
    response = _password_step(client, staff.email, password)
    assert response.status_code == 302
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_index")


def test_admins_own_login_form_sends_staff_to_the_portal_sign_in(db):
    response = Client().get("/admin/login/?next=/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/admin/accounts/user/"


def test_an_organization_can_require_a_factor_of_every_member(tenant_a, password):
    clinician = tenant_a.client_for(Role.CLINICIAN)
    assert clinician.get(reverse("portal:dashboard")).status_code == 200
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    page = admin.get(reverse("accounts:settings"))
    assert "Require a second factor" in page_text(page)
    response = admin.post(
        reverse("accounts:settings"),
        {"data_retention_days": "2555", "require_consent_for_assessment": "on", "require_mfa_for_all_members": "on"},
    )
    assert response.status_code == 302
    tenant_a.organization.refresh_from_db()
    assert tenant_a.organization.require_mfa_for_all_members is True
    event = AuditEvent.objects.get(action="organization.settings_changed")
    assert event.details == {"fields": ["require_mfa_for_all_members"]}
    # The clinician's next request goes to enrolment; a member of another clinic is not affected.
    response = clinician.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_index")


def test_a_session_without_the_second_step_is_signed_out(tenant_a, force_login_without_second_step):
    client = Client()
    client.force_login(tenant_a.users[Role.ORG_ADMIN])  # the password step only
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not _signed_in(client)


# --- resets ----------------------------------------------------------------------------------------------
def _membership(tenant, role):
    with scopes_disabled():
        return Membership.objects.get(organization=tenant.organization, user=tenant.users[role])


def test_an_org_admin_resets_a_members_factors(tenant_a):
    from medilens.testing.mfa import enrol_totp

    clinician = tenant_a.users[Role.CLINICIAN]
    enrol_totp(clinician)
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    members = admin.get(reverse("accounts:members"))
    assert f"Reset second factors of {clinician.email}" in members.content.decode()
    response = admin.post(reverse("accounts:member_factor_reset", args=[_membership(tenant_a, Role.CLINICIAN).pk]))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=clinician).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.organization_id == tenant_a.organization.pk
    assert event.actor_user == tenant_a.users[Role.ORG_ADMIN]
    assert event.details == {"user_id": clinician.pk, "factors": ["recovery_codes", "totp"], "by": "org_admin"}


def test_an_org_admin_cannot_reset_another_admins_factors(tenant_a):
    other_admin = _new_org_admin(tenant_a)
    from medilens.testing.mfa import enrol_totp

    enrol_totp(other_admin)
    with scopes_disabled():
        membership = Membership.objects.get(user=other_admin)
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    response = admin.post(reverse("accounts:member_factor_reset", args=[membership.pk]), follow=True)
    assert "reset by MediLens platform staff" in page_text(response)
    assert Authenticator.objects.filter(user=other_admin).count() == 2
    assert not AuditEvent.objects.filter(action="mfa.reset").exists()


def test_platform_staff_reset_an_org_admins_factors_in_admin(tenant_a, password):
    staff = User.objects.create_superuser("root@platform.example.org", password, full_name="Root")
    client = Client()
    client.force_login(staff)
    admin_user = tenant_a.users[Role.ORG_ADMIN]
    response = client.post(
        "/admin/accounts/user/", {"action": "reset_second_factors", "_selected_action": [admin_user.pk]}
    )
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=admin_user).exists()
    event = AuditEvent.objects.get(action="mfa.reset")
    assert event.organization_id is None and event.actor_user == staff
    assert event.details["by"] == "platform_staff"
    # At the next sign-in the admin signs in with the password and must enrol again.
    again = Client()
    assert _password_step(again, ADMIN_EMAIL, password)["Location"] == reverse("portal:dashboard")
    assert again.get(reverse("portal:dashboard"))["Location"] == reverse("mfa_index")


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ORG_ADMIN], ids=["without-a-factor", "with-a-factor"])
def test_a_page_reads_the_members_memberships_once(tenant_a, role):
    """The middleware decides whether a member without a factor must enrol from the memberships the page
    reads anyway (the active organization, the switcher), not from a query of its own."""
    client = tenant_a.client_for(role)
    client.get(reverse("assessments:patient_list"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("assessments:patient_list")).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "accounts_membership"' in q["sql"]]
    assert len(reads) == 1, reads


def test_a_password_sign_in_reads_the_factor_with_the_user_in_one_statement(tenant_a, password):
    """Signed in with the password (EmailBackend), each page reads the user and whether it has a factor in one
    statement: no query of the authenticators of its own."""
    client = Client()
    assert _password_step(client, "clinician@clinic-a.example.org", password).status_code == 302
    client.get(reverse("assessments:patient_list"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("assessments:patient_list")).status_code == 200
    authenticators = [q["sql"] for q in queries.captured_queries if '"mfa_authenticator"' in q["sql"]]
    assert len(authenticators) == 1 and 'FROM "accounts_user"' in authenticators[0], authenticators


def test_a_factor_enrolled_elsewhere_signs_a_password_session_out_at_its_next_page(tenant_a, password):
    """The factor is read with the user at each request: a session signed in before the member enrolled one (in
    another session) is signed out at its next page, as the rule says."""
    client = Client()
    assert _password_step(client, "clinician@clinic-a.example.org", password).status_code == 302
    assert client.get(reverse("assessments:patient_list")).status_code == 200
    with scopes_disabled():
        Authenticator.objects.create(user=tenant_a.users[Role.CLINICIAN], type=Authenticator.Type.TOTP, data={})
    response = client.get(reverse("assessments:patient_list"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not _signed_in(client)
