"""Reads of accounts data. Membership lookups by user cross tenants on purpose (they are how a
request finds its tenant), so they disable the scope explicitly and always filter by user."""

from django.db.models import QuerySet

from .models import ApiClient, Invitation, Membership, Organization
from .tenancy import scopes_disabled


def memberships_for_user(user) -> list[Membership]:
    """The user's memberships in active organizations, for the switcher and for scope resolution."""
    if not getattr(user, "is_authenticated", False):
        return []
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, organization__status=Organization.Status.ACTIVE)
            .select_related("organization")
            .order_by("organization__name")
        )


def has_suspended_only(user) -> bool:
    with scopes_disabled():
        memberships = Membership.objects.filter(user=user)
        return memberships.exists() and not memberships.filter(organization__status=Organization.Status.ACTIVE).exists()


def organization_members(organization) -> QuerySet[Membership]:
    """Inside the organization's scope (the guard filters by organization)."""
    return Membership.objects.select_related("user").order_by("user__full_name", "user__email")


def organization_open_invitations(organization) -> list[Invitation]:
    return [i for i in Invitation.objects.select_related("invited_by").order_by("-created_at")[:200] if i.is_open]


def organization_api_clients(organization) -> QuerySet[ApiClient]:
    return ApiClient.objects.select_related("created_by").order_by("revoked_at", "name")
