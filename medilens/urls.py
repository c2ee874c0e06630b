from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import views as account_views
from accounts.api import OrganizationView
from accounts.mfa.views import admin_login

from . import api_docs, api_root, views
from .metrics import views as metrics_views

DOCS_METHODS = ["get", "head"]
api_v1 = [
    path("", api_root.api_root, name="root"),
    path("organization/", OrganizationView.as_view(), name="organization"),
    path("", include("assessments.api.urls")),
    path("fhir/", include("fhir_export.urls")),
    path("", include("reports.api_urls")),
    path("", include("webhooks.api.urls")),
    path("", include("directory.api.urls")),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # GET and HEAD only: DRF's OPTIONS would render its description through the page's HTML template (a 500).
    path("docs/", api_docs.SwaggerView.as_view(url_name="api:schema", http_method_names=DOCS_METHODS), name="docs"),
    path("redoc/", api_docs.RedocView.as_view(url_name="api:schema", http_method_names=DOCS_METHODS), name="redoc"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("admin/login/", admin_login, name="admin_login_redirect"),
    path("admin/", admin.site.urls),
    path("accounts/login/", account_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/password/reset/", account_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/", include("accounts.mfa.urls")),
    path("", include(("medilens.portal_urls", "portal"))),
    path("cognitive/", include("kiosk.urls")),
    path("", include("accounts.urls")),
    path("", include("assessments.urls")),
    path("", include("reports.urls")),
    path("audit/", include("audit.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("retention.urls")),
    path("", include("webhooks.urls")),
    path("directory/", include("directory.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
]

handler403 = "medilens.views.permission_denied"
handler404 = "medilens.views.page_not_found"
handler500 = "medilens.views.server_error"
