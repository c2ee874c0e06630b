"""Second factors for tests: enrol a user with a known TOTP secret, compute its current code, and sign a
test client in the way the portal would after a second step (allauth's own session record), so tests of
roles that require a factor need not type codes unless the second step is what they test."""

import time

from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from accounts.access import SESSION_KEY
from accounts.mfa.policy import FACTOR_TYPES, mark_session_verified, mfa_required


def totp_code(secret: str, at: float | None = None, good_for: float = 3.0) -> str:
    """The 6-digit code an authenticator app shows for ``secret`` at time ``at`` (now by default).

    A code for now is one that stays valid at least ``good_for`` seconds more (3 by default, enough for a
    test client's post; a browser's typing needs more): when less of its period is left, this waits for the
    next period. The portal accepts a code in its own period only (``MFA_TOTP_TOLERANCE = 0``), so a code
    computed in a period's last moments and typed into a browser, or posted by a busy test process, reaches
    the server in the next period and is refused."""
    period = app_settings.TOTP_PERIOD
    if at is None:
        left = period - time.time() % period
        if left < good_for:
            time.sleep(left + 0.05)
        at = time.time()
    return format_hotp_value(hotp_value(secret, int(at // period)))


def enrol_totp(user, secret: str | None = None) -> tuple[Authenticator, str]:
    """Test data: an authenticator-app factor and recovery codes, as enrolment on the page leaves them,
    without the audit event (tests of the audit chain count the events their own actions write)."""
    secret = secret or generate_totp_secret()
    authenticator = TOTP.activate(user, secret).instance
    RecoveryCodes.activate(user)
    return authenticator, secret


def complete_second_step(client, user) -> None:
    """Mark a ``force_login`` session as signed in with the user's second factor, enrolling a TOTP factor
    first when the user must have one and has none. ``force_login`` skips the password step; this skips
    the second one the same way, through allauth's own record of the session's steps."""
    factor = Authenticator.objects.filter(user=user, type__in=FACTOR_TYPES).first()
    if factor is None and mfa_required(user):
        factor = TOTP.activate(user, generate_totp_secret()).instance
    if factor is not None:
        session = client.session
        mark_session_verified(session, user, factor)
        session.save()


def signed_in_client(user, organization=None) -> Client:
    client = Client()
    client.force_login(user)
    complete_second_step(client, user)
    if organization is not None:
        session = client.session
        session[SESSION_KEY] = organization.pk
        session.save()
    return client


def totp_secret_of(user) -> str:
    from allauth.mfa.adapter import get_adapter

    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    return get_adapter().decrypt(authenticator.data["secret"])


def unused_totp_code(user, timeout: float = 40.0, good_for: float = 10.0) -> str:
    """The user's current TOTP code, valid ``good_for`` seconds more (see ``totp_code``); if it was
    already used (allauth refuses a code twice), the next period's, polled for with a deadline."""
    from django.core.cache import cache

    secret = totp_secret_of(user)
    deadline = time.monotonic() + timeout
    while True:
        code = totp_code(secret, good_for=good_for)
        if not cache.get(f"allauth.mfa.totp.used?user={user.pk}&code={code}"):
            return code
        if time.monotonic() > deadline:
            raise TimeoutError("no unused TOTP code within the deadline")
        time.sleep(0.2)
