"""Holds signed-in people to the second-factor rules on every page, Django admin included.

- Someone who has a factor but whose session was not signed in with it (a session from before they
  enrolled elsewhere, or one that skipped the step) is signed out and asked to sign in again.
- Someone who must have a factor (platform staff, org admins, members of an organization that requires
  it) and has none reaches only the pages that enrol one, and sign-out.

The API authenticates with keys, not sessions, and is left alone.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from ..access import memberships_of
from .policy import has_factor_now, mfa_required, session_verified

# Pages a person without a required factor may still reach: enrolment (and the re-entry of the password
# allauth asks for before it), sign-out, health checks, static files.
_ENROLMENT_PREFIXES = ("/accounts/2fa/", "/accounts/reauthenticate/", "/accounts/logout/")
_ALWAYS_OPEN_PREFIXES = ("/healthz", "/readyz", "/api/")


class MultiFactorRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if not request.user.is_authenticated or path.startswith((*_ALWAYS_OPEN_PREFIXES, settings.STATIC_URL)):
            return self.get_response(request)
        user = request.user
        if has_factor_now(user):
            if not session_verified(request, user):
                logout(request)
                messages.info(request, "Sign in again with your second factor.")
                return redirect_to_login(request.get_full_path())
        elif mfa_required(user, memberships_of(request)) and not path.startswith(_ENROLMENT_PREFIXES):
            messages.info(
                request,
                "Your role requires a second factor. Set up an authenticator app or a passkey to continue.",
            )
            return redirect("mfa_index")
        return self.get_response(request)
