from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.decorators.http import require_POST

from medilens.form_errors import add_form_errors

from . import services, signin_limits
from .access import SESSION_KEY, OrganizationMixin, memberships_of
from .confirmation import confirmation_page, error_messages, is_confirmed, perform
from .forms import AcceptNewUserForm, ApiClientForm, LoginForm, OrganizationSettingsForm
from .mfa.views import continue_sign_in
from .models import ApiClient
from .selectors import (
    memberships_for_user,
    organization_api_clients,
)


# --- sign-in -----------------------------------------------------------------------------------------
class LoginView(auth_views.LoginView):
    """The password step. A right password goes on to allauth's login stages (the second factor, when the
    user has one); a refusal under the sign-in limits is a 429 that says how long to wait."""

    form_class = LoginForm
    redirect_authenticated_user = True
    # Where a role lands after signing in, when no ?next= says otherwise: a clinician's day starts at the
    # results waiting for sign-off. Other roles land on the dashboard (LOGIN_REDIRECT_URL).
    ROLE_LANDING = {"clinician": "assessments:review"}

    def form_valid(self, form):
        self.signing_in = form.get_user()
        return continue_sign_in(self.request, self.signing_in, redirect_url=self.get_success_url())

    def get_default_redirect_url(self):
        user = getattr(self, "signing_in", None) or self.request.user
        memberships = memberships_for_user(user)
        # The first membership is the one the portal makes active (accounts.access.resolve_membership).
        landing = self.ROLE_LANDING.get(memberships[0].role) if memberships else None
        return reverse(landing) if landing else super().get_default_redirect_url()

    def form_invalid(self, form):
        response = super().form_invalid(form)
        refusal = getattr(form, "refusal", None)
        if refusal is not None:
            response.status_code = 429
            response["Retry-After"] = str(refusal.retry_after)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_password_changed(user=form.user, via="change")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Same page whether or not the email has an account, so accounts cannot be discovered."""

    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        refusal = signin_limits.password_reset_refusal(self.request, form.cleaned_data["email"])
        if refusal is not None:
            response = render(
                self.request, "registration/password_reset_throttled.html", {"message": refusal.message}, status=429
            )
            response["Retry-After"] = str(refusal.retry_after)
            return response
        services.record_password_reset_requested()
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_password_changed(user=form.user, via="reset")
        return response


@login_required
@require_POST
def switch_organization(request):
    slug = request.POST.get("organization", "")
    membership = next((m for m in memberships_of(request) if m.organization.slug == slug), None)
    if membership is None:
        # Not a member (or suspended): same answer as for an organization that does not exist.
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = membership.organization_id
    messages.success(request, f"You are now working in {membership.organization.name}.")
    return redirect("portal:dashboard")


class InvitationAcceptView(View):
    """Public: the link from the email. Existing users sign in first; new users set a password."""

    template_name = "accounts/invitation_accept.html"

    def dispatch(self, request, token):
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        try:
            invitation = services.find_open_invitation(token)
        except services.InvitationInvalid as error:
            return render(request, "accounts/invitation_invalid.html", {"message": str(error)}, status=410)
        from .models import User

        account_exists = User.objects.filter(email__iexact=invitation.email).exists()
        form = AcceptNewUserForm(request.POST or None) if not account_exists else None
        context = {"invitation": invitation, "form": form, "account_exists": account_exists, "token": token}
        if request.method == "POST":
            try:
                if account_exists:
                    if not request.user.is_authenticated:
                        return redirect(f"{reverse('login')}?next={request.path}")
                    services.accept_invitation(token=token, user=request.user)
                    request.session[SESSION_KEY] = invitation.organization_id
                    messages.success(request, f"You joined {invitation.organization.name}.")
                    return redirect("portal:dashboard")
                if form.is_valid():
                    services.accept_invitation(
                        token=token,
                        full_name=form.cleaned_data["full_name"],
                        password=form.cleaned_data["password1"],
                    )
                    messages.success(request, "Your account is ready. Sign in with your email and password.")
                    return redirect("login")
            except services.InvitationInvalid as error:
                return render(request, "accounts/invitation_invalid.html", {"message": str(error)}, status=410)
            except ValidationError as error:
                if form is not None:
                    if hasattr(error, "error_dict"):
                        add_form_errors(form, error)
                    else:
                        form.add_error("password1" if "password" in " ".join(error.messages).lower() else None, error)
                else:
                    context["errors"] = error_messages(error)
            return render(request, self.template_name, context, status=400)
        return render(request, self.template_name, context)


# --- API clients -------------------------------------------------------------------------------------
class ApiClientsView(OrganizationMixin, View):
    required_permission = "api_clients.manage"
    template_name = "accounts/api_clients.html"

    def get(self, request, form=None, new_key=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "clients": organization_api_clients(request.organization),
                "form": form or ApiClientForm(),
                "new_key": new_key,
            },
            status=status,
        )

    def post(self, request):
        form = ApiClientForm(request.POST)
        if form.is_valid():
            try:
                client, key = services.create_api_client(
                    acting_user=request.user,
                    organization=request.organization,
                    name=form.cleaned_data["name"],
                    access=form.cleaned_data["access"],
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                # Shown once, on this response only; never stored or logged.
                response = self.get(request, new_key={"client": client, "key": key})
                response["Cache-Control"] = "no-store"
                return response
        return self.get(request, form=form, status=400)


class ApiClientRevokeView(OrganizationMixin, View):
    """GET or an unconfirmed POST: the confirmation page; only its form revokes."""

    required_permission = "api_clients.manage"

    def get(self, request, pk):
        return self.post(request, pk)

    def post(self, request, pk):
        client = get_object_or_404(ApiClient, pk=pk)
        if not is_confirmed(request):
            return confirmation_page(
                request,
                title="Revoke API key",
                question=f"Revoke the key of {client.name}?",
                consequences="Every request with this key is refused from now on. This cannot be undone: "
                "the partner system needs a new client and key.",
                confirm_label="Revoke key",
                cancel_url=reverse("accounts:api_clients"),
            )
        return perform(
            request,
            lambda: services.revoke_api_client(
                acting_user=request.user, organization=request.organization, client=client
            ),
            missing=ApiClient.DoesNotExist,
            not_found="No such API client.",
            success=f"API client {client.name} revoked: its key no longer works.",
            then=reverse("accounts:api_clients"),
        )


# --- organization settings ---------------------------------------------------------------------------
class OrganizationSettingsView(OrganizationMixin, View):
    required_permission = "settings.manage"
    template_name = "accounts/settings.html"

    def get(self, request, form=None, status=200):
        form = form or OrganizationSettingsForm(instance=request.organization)
        return render(request, self.template_name, {"form": form}, status=status)

    def post(self, request):
        form = OrganizationSettingsForm(request.POST, instance=request.organization)
        if form.is_valid():
            services.update_organization_settings(
                acting_user=request.user,
                organization=request.organization,
                data_retention_days=form.cleaned_data["data_retention_days"],
                require_consent_for_assessment=form.cleaned_data["require_consent_for_assessment"],
                require_mfa_for_all_members=form.cleaned_data["require_mfa_for_all_members"],
            )
            messages.success(request, "Settings saved.")
            return redirect("accounts:settings")
        # The ModelForm's validation may have touched the instance; reload it unchanged.
        request.organization.refresh_from_db()
        return self.get(request, form=form, status=400)
