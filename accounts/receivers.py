"""Sign-in signals feed the sign-in limits and the session's lifetime. They only count and stamp; the
rules are in accounts.signin_limits and accounts.sessions."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from . import signin_limits
from .sessions import mark_signed_in


@receiver(user_login_failed, dispatch_uid="accounts_signin_limits_failure")
def _count_failure(sender, credentials, request=None, **kwargs):
    if request is not None and getattr(request, "axes_locked_out", False):
        # Refused by axes before the password was checked: not a guess, and counting it would extend
        # the refusal.
        return
    credentials = credentials or {}
    signin_limits.record_failure(request, credentials.get("username") or credentials.get("email"))


@receiver(user_logged_in, dispatch_uid="accounts_signin_limits_success")
def _signed_in(sender, request, user, **kwargs):
    signin_limits.record_success(user.email)
    if request is not None and hasattr(request, "session"):
        mark_signed_in(request.session)
