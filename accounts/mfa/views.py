"""Pages of the second step and of factor resets; the rest of factor management is allauth's."""

from allauth.account.internal.flows.login import perform_login, record_authentication
from allauth.account.models import Login
from allauth.mfa.base.views import AuthenticateView
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views import View

from ..access import OrganizationMixin
from ..models import Membership
from . import services


def continue_sign_in(request, user, *, redirect_url: str):
    """After a right password: allauth's login stages sign the user in, or first ask for the second factor
    when the user has one. The password step goes into allauth's record of the session's steps as fresh
    (``reauthenticated``): enrolling a factor right after signing in, as a required enrolment does, then
    does not ask for the password again; after ACCOUNT_REAUTHENTICATION_TIMEOUT it does."""
    record_authentication(request, user, "password", email=user.email, reauthenticated=True)
    return perform_login(request, Login(user=user, redirect_url=redirect_url))


class SecondStepView(AuthenticateView):
    """allauth's second-step page; a refusal under the sign-in limits is a 429, as for the password."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        refusal = getattr(self.request, "signin_refusal", None)
        if refusal is not None:
            response.status_code = 429
            response["Retry-After"] = str(refusal.retry_after)
        return response


def admin_login(request):
    """Django admin's own login form would skip the second factor: staff sign in through the portal's."""
    return redirect_to_login(request.GET.get("next") or "/admin/")


class MemberFactorResetView(OrganizationMixin, View):
    required_permission = "members.manage"

    def post(self, request, pk):
        membership = get_object_or_404(Membership, pk=pk)  # another organization's member: 404
        try:
            user = services.reset_member_factors(
                acting_user=request.user, organization=request.organization, membership_id=membership.pk
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, f"The second factors of {user.email} were removed: they set up new ones at their next "
                "sign-in if their role requires one.",
            )
        return redirect("accounts:members")
