"""allauth announces factor changes made in its views only through signals; these pass them to the
services that audit them. They hold no rules."""

from allauth.mfa import signals
from allauth.mfa.models import Authenticator
from django.dispatch import receiver

from . import services
from .policy import FACTOR_TYPES, mark_session_verified


@receiver(signals.authenticator_added, dispatch_uid="accounts_mfa_enrolled")
def _enrolled(sender, request, user, authenticator, **kwargs):
    services.record_enrolment(user=user, authenticator=authenticator)
    if request is not None and authenticator.type in FACTOR_TYPES and request.user.pk == user.pk:
        # Typing the new factor's first code (or touching the new passkey) proves it, as a sign-in would.
        mark_session_verified(request.session, user, authenticator)


@receiver(signals.authenticator_removed, dispatch_uid="accounts_mfa_removed")
def _removed(sender, request, user, authenticator, **kwargs):
    services.record_removal(user=user, authenticator=authenticator)


@receiver(signals.authenticator_reset, dispatch_uid="accounts_mfa_reset_codes")
def _codes_renewed(sender, request, user, authenticator, **kwargs):
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        services.record_recovery_codes_renewed(user=user)
