"""The second step under the password's limits: allauth's forms, with the same refusals before the check
(axes' lockout, accounts.signin_limits) and every failure counted and audited after it."""

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm, LoginWebAuthnForm
from axes.handlers.proxy import AxesProxyHandler
from django.core.exceptions import ValidationError

from .. import signin_limits
from . import services

WRONG_CODE = (
    "That code is not valid: it is mistyped, already used, or expired. Enter the code your authenticator "
    "app shows now, or one of your unused recovery codes."
)
PASSKEY_REFUSED = "That passkey was not accepted. Try again, or use a code from your authenticator app."
LOCKED = "Too many failed sign-ins for this account from your network. Try again later, or reset your password."


def refuse_if_limited(request, user) -> None:
    """Raise the refusal that a password attempt for this account from this address would get now."""
    credentials = {"username": user.email}
    if not AxesProxyHandler.is_allowed(request, credentials):
        # AxesMiddleware turns this into the same lockout page the password step shows.
        request.axes_locked_out = True
        request.axes_credentials = credentials
        raise ValidationError(LOCKED, code="throttled")
    refusal = signin_limits.sign_in_refusal(request, user.email)
    if refusal:
        request.signin_refusal = refusal
        raise ValidationError(refusal.message, code="throttled")


class SecondStepForm(AuthenticateForm):
    def clean_code(self):
        request = context.request
        refuse_if_limited(request, self.user)
        try:
            return super().clean_code()
        except ValidationError:
            services.record_failed_second_step(request=request, user=self.user, factor="code")
            raise ValidationError(WRONG_CODE, code="incorrect_code") from None


class SecondStepPasskeyForm(AuthenticateWebAuthnForm):
    def clean_credential(self):
        request = context.request
        refuse_if_limited(request, self.user)
        try:
            return super().clean_credential()
        except ValidationError:
            services.record_failed_second_step(request=request, user=self.user, factor="webauthn")
            raise ValidationError(PASSKEY_REFUSED, code="incorrect_code") from None


class PasskeySignInForm(LoginWebAuthnForm):
    """Passkey sign-in (no password): the account is named by the passkey itself, so only the address's
    limit applies before the check, and a refused passkey counts against the address."""

    def clean_credential(self):
        request = context.request
        refusal = signin_limits.sign_in_refusal(request, None)
        if refusal:
            raise ValidationError(refusal.message, code="throttled")
        try:
            return super().clean_credential()
        except ValidationError:
            signin_limits.record_failure(request, None)
            raise ValidationError(PASSKEY_REFUSED, code="incorrect_code") from None
