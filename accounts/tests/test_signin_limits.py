"""Sign-in and session limits: password spraying from one address, a per-account wait that doubles past the
axes limit, the client address behind trusted proxies only, password reset throttled per address and per
account without telling accounts apart, an absolute session lifetime, and polls that do not renew an idle
session."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import signin_limits
from accounts.client_address import resolve
from accounts.roles import Role
from accounts.sessions import SIGNED_IN_AT
from audit.models import AuditEvent
from medilens.testing.factories import make_member

from .helpers import alert_text, page_text

LOGIN = "/accounts/login/"
WRONG = "not the password 123"


def _login(email, password, ip="10.2.0.1", client=None, **extra):
    client = client or Client()
    return client, client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def clock(monkeypatch):
    """The sign-in limits' clock, moved by the test instead of waited for."""

    class Clock:
        now = time.time()

        def advance(self, seconds):
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(signin_limits, "_now", lambda: fake.now)
    return fake


# --- password spraying -------------------------------------------------------------------------------------
def test_one_address_failing_across_accounts_is_stopped(tenant_a, password, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    emails = [make_member(tenant_a.organization, email=f"sprayed{n}@clinic-a.example.org").email for n in range(6)]
    for email in emails:  # one guess per account: axes' (account, address) lockout never triggers
        _client, response = _login(email, WRONG, ip="198.51.100.7")
        assert response.status_code == 200
    client, response = _login("clinician@clinic-a.example.org", password, ip="198.51.100.7")
    assert response.status_code == 429
    assert alert_text(response) == "Too many failed sign-ins from your network. Try again in 15 minutes."
    assert int(response["Retry-After"]) == settings.LOGIN_ADDRESS_WINDOW_MINUTES * 60
    assert not _signed_in(client)
    # Refused attempts are not guesses: none was checked or audited as a failed sign-in.
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 6
    # Another address is not affected.
    client, response = _login("clinician@clinic-a.example.org", password, ip="198.51.100.8")
    assert response.status_code == 302 and _signed_in(client)


def test_the_default_address_limit_leaves_room_for_a_busy_clinic():
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 50
    assert settings.LOGIN_ADDRESS_WINDOW_MINUTES == 15


# --- the per-account wait ----------------------------------------------------------------------------------
def test_failures_past_the_limit_make_the_account_wait_longer_each_time(tenant_a, password, clock):
    email = "clinician@clinic-a.example.org"
    limit = settings.AXES_FAILURE_LIMIT
    # From many addresses (a spread-out attack; one address would be locked by axes at the limit).
    for n in range(limit):
        _client, response = _login(email, WRONG, ip=f"10.3.0.{n + 1}")
        assert response.status_code == 200, n
    for failure_past_limit, wait in enumerate([1, 2, 4, 8], start=1):
        _client, response = _login(email, WRONG, ip=f"10.4.0.{failure_past_limit}")
        assert response.status_code == 200  # counted: the wait starts now
        client, response = _login(email, password, ip="10.5.0.1")
        assert response.status_code == 429
        assert alert_text(response) == (
            f"Too many failed sign-ins for this account. Wait {wait} second{'s' if wait > 1 else ''} and try again."
        )
        assert not _signed_in(client)
        clock.advance(wait - 0.5)
        assert _login(email, password, ip="10.5.0.2")[1].status_code == 429
        clock.advance(0.6)
    # The wait is over: the right password signs in, and ends the run of failures.
    client, response = _login(email, password, ip="10.5.0.3")
    assert response.status_code == 302 and _signed_in(client)
    _client, response = _login(email, WRONG, ip="10.5.0.4")
    _client, response = _login(email, password, ip="10.5.0.5")
    assert response.status_code == 302


def test_the_wait_is_capped_and_the_same_for_unknown_emails(db, clock, settings):
    settings.LOGIN_ACCOUNT_DELAY_MAX_SECONDS = 60
    for n in range(settings.AXES_FAILURE_LIMIT + 12):
        _login("nobody@nowhere.example.org", WRONG, ip=f"10.6.{n}.1")
        clock.advance(120)
    _client, response = _login("nobody@nowhere.example.org", WRONG, ip="10.7.0.1")
    _client, response = _login("nobody@nowhere.example.org", WRONG, ip="10.7.0.2")
    assert response.status_code == 429
    assert "Wait 60 seconds" in alert_text(response)


def test_a_clinician_is_never_locked_out_by_someone_elses_failures(tenant_a, password, clock):
    """Many failures from elsewhere only make the clinician wait, at most the cap, never a lockout."""
    email = "clinician@clinic-a.example.org"
    for n in range(settings.AXES_FAILURE_LIMIT + 30):
        _login(email, WRONG, ip=f"10.8.{n}.1")
        clock.advance(settings.LOGIN_ACCOUNT_DELAY_MAX_SECONDS)
    clock.advance(settings.LOGIN_ACCOUNT_DELAY_MAX_SECONDS + 1)
    client, response = _login(email, password, ip="10.9.0.1")
    assert response.status_code == 302 and _signed_in(client)


# --- the client address ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", "1.2.3.4", (), "203.0.113.9"),  # no trusted proxy: the header is ignored
        ("203.0.113.9", "1.2.3.4", ("10.0.0.0/8",), "203.0.113.9"),  # not from a trusted proxy
        ("10.0.0.2", "1.2.3.4", ("10.0.0.0/8",), "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", ("10.0.0.0/8",), "1.2.3.4"),  # the client cannot pick its address
        ("10.0.0.2", "1.2.3.4, 10.0.0.7", ("10.0.0.0/8",), "1.2.3.4"),  # two proxies
        ("10.0.0.2", "garbage, 10.0.0.7", ("10.0.0.0/8",), "10.0.0.7"),
        ("10.0.0.2", "", ("10.0.0.0/8",), "10.0.0.2"),
        ("fd00::2", "2001:db8::7", ("fd00::/8",), "2001:db8::7"),
    ],
)
def test_the_client_address_is_read_from_x_forwarded_for_only_behind_trusted_proxies(peer, forwarded, trusted, client):
    assert resolve(peer, forwarded, trusted) == client


def test_without_trusted_proxies_a_forged_header_changes_nothing(tenant_a, password):
    """Before, behind no proxy: the lockout key and the audit address are the connection's, whatever the
    client writes in X-Forwarded-For."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login("auditor@clinic-a.example.org", WRONG, ip="203.0.113.5", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
    _client, response = _login(
        "auditor@clinic-a.example.org", password, ip="203.0.113.5", HTTP_X_FORWARDED_FOR="9.9.9.9"
    )
    assert response.status_code == 429
    assert set(AuditEvent.objects.filter(action="auth.login_failed").values_list("ip", flat=True)) == {"203.0.113.5"}


def test_behind_a_trusted_proxy_each_client_is_limited_on_its_own_address(tenant_a, password, settings):
    """Everyone comes from the proxy: five failures of one client must not lock the account for the rest,
    and the audit log names the client, not the proxy."""
    settings.TRUSTED_PROXIES = ["10.10.0.0/16"]
    proxy = "10.10.0.1"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("auditor@clinic-a.example.org", WRONG, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66")
    _client, response = _login("auditor@clinic-a.example.org", password, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert response.status_code == 429
    client, response = _login("auditor@clinic-a.example.org", password, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.67")
    assert response.status_code == 302 and _signed_in(client)
    assert set(AuditEvent.objects.filter(action="auth.login_failed").values_list("ip", flat=True)) == {"198.51.100.66"}
    assert AuditEvent.objects.get(action="auth.login").ip == "198.51.100.67"


def test_api_throttles_do_not_believe_x_forwarded_for():
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


# --- password reset -----------------------------------------------------------------------------------------
RESET = "/accounts/password/reset/"


def _reset(email, ip="10.20.0.1"):
    return Client().post(RESET, {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_sends_at_most_n_emails_an_hour_per_account(tenant_a):
    email = "clinician@clinic-a.example.org"
    responses = [_reset(email, ip=f"10.21.0.{n}") for n in range(settings.PASSWORD_RESET_ACCOUNT_LIMIT + 2)]
    assert [r.status_code for r in responses] == [302] * settings.PASSWORD_RESET_ACCOUNT_LIMIT + [429, 429]
    assert len(mail.outbox) == settings.PASSWORD_RESET_ACCOUNT_LIMIT
    assert "Too many password reset requests for this email address" in page_text(responses[-1])
    assert responses[-1]["Retry-After"] == "3600"


def test_a_throttled_reset_answers_the_same_for_unknown_emails(tenant_a):
    known = [_reset("clinician@clinic-a.example.org", ip=f"10.22.0.{n}") for n in range(5)]
    unknown = [_reset("nobody@clinic-a.example.org", ip=f"10.23.0.{n}") for n in range(5)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert page_text(known[-1]) == page_text(unknown[-1])
    assert known[0]["Location"] == unknown[0]["Location"]


def test_password_reset_is_throttled_per_address(tenant_a):
    responses = [_reset(f"someone{n}@clinic-a.example.org", ip="10.24.0.1") for n in range(12)]
    statuses = [r.status_code for r in responses]
    limit = settings.PASSWORD_RESET_ADDRESS_LIMIT
    assert statuses == [302] * limit + [429] * (12 - limit)
    assert "from your network" in page_text(responses[-1])
    assert _reset("someone@clinic-a.example.org", ip="10.24.0.2").status_code == 302


# --- sessions -----------------------------------------------------------------------------------------------
def test_the_absolute_lifetime_is_twelve_hours_by_default():
    assert settings.SESSION_ABSOLUTE_LIFETIME_HOURS == 12


def test_an_active_session_still_ends_after_its_absolute_lifetime(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    assert client.get(reverse("portal:dashboard")).status_code == 200
    session = client.session
    session[SIGNED_IN_AT] = time.time() - 11.9 * 3600
    session.save()
    assert client.get(reverse("portal:dashboard")).status_code == 200
    session = client.session
    session[SIGNED_IN_AT] = time.time() - 12.1 * 3600
    session.save()
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert not _signed_in(client)


def test_a_fresh_sign_in_starts_the_lifetime(tenant_a, password):
    client, _response = _login("clinician@clinic-a.example.org", password)
    assert abs(client.session[SIGNED_IN_AT] - time.time()) < 60


def test_polling_does_not_keep_an_idle_session_alive(tenant_a):
    from .tenant_routes import make_assessment

    client = tenant_a.client_for(Role.CLINICIAN)
    assessment = make_assessment(tenant_a)
    progress = reverse("assessments:assessment_progress", args=[assessment.pk])
    assert progress.endswith("/progress/")
    soon = timezone.now() + timedelta(minutes=5)
    Session.objects.filter(session_key=client.session.session_key).update(expire_date=soon)
    for _ in range(3):
        assert client.get(progress).status_code == 200
    assert Session.objects.get(session_key=client.session.session_key).expire_date == soon
    # Any other page renews it.
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert Session.objects.get(session_key=client.session.session_key).expire_date > soon + timedelta(minutes=20)
