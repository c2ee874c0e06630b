"""Audit events for things Django and django-axes announce only through signals.

Sign-in happens inside Django's auth machinery, so its signals are the only place to observe it. The
receivers only record; they hold no business logic.
"""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import record
from .models import AuditEvent


def _attempted_user(credentials):
    email = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    return get_user_model().objects.filter(email__iexact=email.strip()).first() if email else None


@receiver(user_logged_in, dispatch_uid="audit_login")
def _on_login(sender, request, user, **kwargs):
    record(action="auth.login", actor=user, target=user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        record(action="auth.logout", actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    # The user sees one message whether or not the email exists; the audit log (read by staff) links
    # the failure to the account when there is one, so repeated attacks on an account are visible.
    user = _attempted_user(credentials)
    record(
        action="auth.login_failed",
        actor="anonymous",
        target_type="accounts.user" if user else "",
        target_id=user.pk if user else "",
        outcome=AuditEvent.Outcome.FAILURE,
        details={"account_exists": user is not None},
    )


@receiver(user_locked_out, dispatch_uid="audit_lockout")
def _on_lockout(sender, request, username, ip_address, **kwargs):
    user = _attempted_user({"username": username})
    record(
        action="auth.lockout",
        actor="anonymous",
        target_type="accounts.user" if user else "",
        target_id=user.pk if user else "",
        outcome=AuditEvent.Outcome.DENIED,
        details={"account_exists": user is not None},
    )
