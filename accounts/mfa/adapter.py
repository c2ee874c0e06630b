"""allauth adapters: allauth runs only the second step, the passkey sign-in and factor management; sign-up,
email management and password flows stay MediLens's own."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.mfa.adapter import DefaultMFAAdapter
from django.contrib import messages
from django.shortcuts import redirect

from ..selectors import has_suspended_only

# Our own password login and sign-out pages already say what happened.
_SILENT_MESSAGES = {"account/messages/logged_in.txt", "account/messages/logged_out.txt"}


def sign_in_refused_reason(user) -> str | None:
    """What LoginForm tells a person whose password was right but who may not sign in; the passkey
    sign-in, which has no password form, must say the same."""
    if not user.is_active:
        return "That account cannot sign in."
    if not user.is_staff and has_suspended_only(user):
        return "Your organization's access to MediLens is suspended. Contact your administrator."
    return None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Accounts are made from invitations (accounts.services.accept_invitation) and by platform staff.
        return False

    def get_client_ip(self, request):
        # accounts.client_address has resolved it (X-Forwarded-For only from trusted proxies).
        return request.META.get("REMOTE_ADDR") or "unknown"

    def pre_login(self, request, user, **kwargs):
        reason = sign_in_refused_reason(user)
        if reason:
            clear_login(request)
            messages.error(request, reason)
            return redirect("login")
        return super().pre_login(request, user, **kwargs)

    def login(self, request, user):
        # A passkey sign-in has no authentication backend attached; allauth would pick the first backend
        # that has get_user, which is axes' (it finds no one).
        if not hasattr(user, "backend"):
            user.backend = "accounts.backends.EmailBackend"
        super().login(request, user)

    def add_message(self, request, level, message_template=None, message_context=None, extra_tags="", message=None):
        if message_template in _SILENT_MESSAGES:
            return
        super().add_message(request, level, message_template, message_context, extra_tags, message)


class MultiFactorAdapter(DefaultMFAAdapter):
    def _get_site_name(self) -> str:
        return "MediLens"
