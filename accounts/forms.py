from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from . import signin_limits
from .models import ApiClient, Organization
from .roles import Role
from .selectors import has_suspended_only


class LoginForm(AuthenticationForm):
    """Email login. Unknown email and wrong password get the same message."""

    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"})
    )
    error_messages = {
        "invalid_login": "That email and password do not match an account.",
        "inactive": "That email and password do not match an account.",
        "suspended": "Your organization's access to MediLens is suspended. Contact your administrator.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        # Before the password is checked: a refused attempt is not a guess, and is not counted.
        self.refusal = signin_limits.sign_in_refusal(self.request, self.cleaned_data.get("username"))
        if self.refusal is not None:
            raise forms.ValidationError(self.refusal.message, code="throttled")
        return super().clean()

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_staff and has_suspended_only(user):
            raise forms.ValidationError(self.error_messages["suspended"], code="suspended")


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.CLINICIAN)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AcceptNewUserForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Confirm password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class ApiClientForm(forms.Form):
    name = forms.CharField(label="Client name", max_length=120, help_text="Usually the partner system's name.")
    access = forms.ChoiceField(label="Access", choices=ApiClient.Access.choices, initial=ApiClient.Access.READ_ONLY)


class OrganizationSettingsForm(forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["data_retention_days", "require_consent_for_assessment", "require_mfa_for_all_members"]
        labels = {
            "data_retention_days": "Data retention (days)",
            "require_consent_for_assessment": "Require recorded consent before an assessment",
            "require_mfa_for_all_members": "Require a second factor (authenticator app or passkey) for every member",
        }

    data_retention_days = forms.IntegerField(min_value=1, max_value=36500, label="Data retention (days)")
