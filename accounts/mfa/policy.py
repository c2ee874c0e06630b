"""Who must use a second factor, who has one, and whether this session was signed in with it.

A session counts as verified when allauth's own record of the session's authentication steps holds an
"mfa" step (a second factor at sign-in, a passkey sign-in, or enrolling a factor in this session).
"""

import time

from allauth.account.internal.flows.login import (
    _AUTHENTICATION_METHODS_USER_SESSION_KEY,
    AUTHENTICATION_METHODS_SESSION_KEY,
    get_authentication_records,
)
from allauth.mfa.models import Authenticator

from ..models import Membership
from ..roles import Role
from ..selectors import memberships_for_user

FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def mfa_required(user, memberships: list[Membership] | None = None) -> bool:
    """Platform staff, org admins, and members of an organization that requires it for everyone.

    Decided on the user's memberships in active organizations (``memberships_for_user``), read here unless
    the caller has them: the middleware reads them once per page and leaves them to the view."""
    if user.is_staff:
        return True
    if memberships is None:
        memberships = memberships_for_user(user)
    return any(m.role == Role.ORG_ADMIN or m.organization.require_mfa_for_all_members for m in memberships)


def has_factor(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=FACTOR_TYPES).exists()


def has_factor_now(user) -> bool:
    """``has_factor`` as read with the request's user (``EmailBackend.get_user``: the same statement, at the start
    of this request), or asked now for a user loaded otherwise."""
    loaded = getattr(user, "factor_at_load", None)
    return has_factor(user) if loaded is None else loaded


def factor_user_ids(user_ids) -> set[int]:
    return set(
        Authenticator.objects.filter(user_id__in=list(user_ids), type__in=FACTOR_TYPES).values_list(
            "user_id", flat=True
        )
    )


def session_verified(request, user) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


def mark_session_verified(session, user, authenticator) -> None:
    """Record a second-factor step in allauth's session record, as allauth's own sign-in does. Used when a
    factor is enrolled in the session (typing its first code proves it) and by test fixtures that sign in
    with ``force_login``."""
    if session.get(_AUTHENTICATION_METHODS_USER_SESSION_KEY) != str(user.pk):
        session[AUTHENTICATION_METHODS_SESSION_KEY] = []
    records = list(session.get(AUTHENTICATION_METHODS_SESSION_KEY) or [])
    records.append({"method": "mfa", "at": time.time(), "id": authenticator.pk, "type": authenticator.type})
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
