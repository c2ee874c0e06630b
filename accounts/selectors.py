"""Reads of accounts data. Membership lookups by user cross tenants on purpose (they are how a
request finds its tenant), so they disable the scope explicitly and always filter by user."""

from django.db.models import QuerySet

from medilens.rls import context as row_security

from .models import ApiClient, Invitation, Membership, Organization
from .tenancy import organization_scope, scopes_disabled


def memberships_for_user(user) -> list[Membership]:
    """The user's memberships in active organizations, for the switcher and for scope resolution."""
    if not getattr(user, "is_authenticated", False):
        return []
    # Row-Level Security: the application role sees a user's own memberships by app.user_id.
    with scopes_disabled(), row_security.bind(user_id=user.pk):
        return list(
            Membership.objects.filter(user=user, organization__status=Organization.Status.ACTIVE)
            .select_related("organization")
            .order_by("organization__name")
        )


def has_suspended_only(user) -> bool:
    with scopes_disabled(), row_security.bind(user_id=user.pk):
        memberships = Membership.objects.filter(user=user)
        return memberships.exists() and not memberships.filter(organization__status=Organization.Status.ACTIVE).exists()


# The organization is the argument, not whatever scope the caller happens to be in: under admin's
# scopes_disabled() (or another organization's scope) these still return this organization's rows only.
def organization_members(organization) -> QuerySet[Membership]:
    with organization_scope(organization):
        return (
            Membership.objects.filter(organization=organization)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )


def organization_open_invitations(organization) -> list[Invitation]:
    """Not yet accepted or revoked: expired ones too, so they can be sent again."""
    with organization_scope(organization):
        return list(
            Invitation.objects.filter(
                organization=organization,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
            )
            .select_related("invited_by")
            .order_by("-created_at")[:200]
        )


def organization_api_clients(organization) -> QuerySet[ApiClient]:
    with organization_scope(organization):
        return (
            ApiClient.objects.filter(organization=organization)
            .select_related("created_by")
            .order_by("revoked_at", "name")
        )
