from django.urls import path

from . import member_views, views
from .mfa import views as mfa_views

app_name = "accounts"

urlpatterns = [
    path("organization/switch/", views.switch_organization, name="switch_organization"),
    path("members/", member_views.MembersView.as_view(), name="members"),
    path("members/<int:pk>/role/", member_views.MemberRoleView.as_view(), name="member_role"),
    path("members/<int:pk>/remove/", member_views.MemberRemoveView.as_view(), name="member_remove"),
    path("members/<int:pk>/reset-factors/", mfa_views.MemberFactorResetView.as_view(), name="member_factor_reset"),
    path("invitations/<int:pk>/revoke/", member_views.InvitationRevokeView.as_view(), name="invitation_revoke"),
    path("invitations/<int:pk>/resend/", member_views.InvitationResendView.as_view(), name="invitation_resend"),
    path("invitations/accept/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("api-clients/", views.ApiClientsView.as_view(), name="api_clients"),
    path("api-clients/<int:pk>/revoke/", views.ApiClientRevokeView.as_view(), name="api_client_revoke"),
    path("settings/", views.OrganizationSettingsView.as_view(), name="settings"),
]
