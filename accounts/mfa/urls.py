"""The second step and factor management (allauth's MFA views under /accounts/2fa/), plus the names of
MediLens's own sign-in pages under the names allauth's pages link to."""

from allauth.account.views import ReauthenticateView
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .. import views as account_views
from . import views

urlpatterns = [
    path("2fa/authenticate/", views.SecondStepView.as_view(), name="mfa_authenticate"),
    path("2fa/", include("allauth.mfa.urls")),
    # Password re-entry before adding or removing a factor when the sign-in is more than a few minutes old.
    path("reauthenticate/", ReauthenticateView.as_view(), name="account_reauthenticate"),
    # The same pages as "login", "logout", "password_change", under allauth's names.
    path("login/", account_views.LoginView.as_view(), name="account_login"),
    path("logout/", auth_views.LogoutView.as_view(), name="account_logout"),
    path("password/change/", account_views.PasswordChangeView.as_view(), name="account_change_password"),
]
