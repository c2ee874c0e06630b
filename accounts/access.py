"""The one way a portal view reaches tenant data.

``OrganizationMixin`` resolves the active organization from the signed-in user's memberships (the
session remembers which one is active), checks the view's ``required_permission`` against the role, and
runs the whole view, template rendering included, inside that organization's scope. A view that forgets
to name a permission is refused at start-up of the request, never let through.
"""

from contextlib import nullcontext

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import DatabaseError
from django.http import Http404
from django.shortcuts import render

from medilens.rls import errors as row_security_errors

from .roles import PERMISSIONS, role_has
from .selectors import has_suspended_only, memberships_for_user
from .tenancy import organization_scope, tenant_transaction

SESSION_KEY = "active_organization_id"


def memberships_of(request):
    """The signed-in user's memberships in active organizations, read once per request (the second-factor
    middleware and the view both need them)."""
    if getattr(request, "memberships", None) is None:
        request.memberships = memberships_for_user(request.user)
    return request.memberships


def resolve_membership(request):
    """Pick the active membership: the one the session names if still valid, else the first."""
    memberships = memberships_of(request)
    wanted = request.session.get(SESSION_KEY)
    chosen = next((m for m in memberships if m.organization_id == wanted), None)
    if chosen is None and memberships:
        chosen = memberships[0]
        request.session[SESSION_KEY] = chosen.organization_id
    return chosen


class OrganizationMixin(LoginRequiredMixin):
    required_permission: str | None = None
    # Methods that store uploaded files run without the request's transaction (see TenantAPIView).
    stores_files_on: frozenset[str] = frozenset()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.required_permission not in PERMISSIONS:
            raise ImproperlyConfigured(f"{type(self).__name__} must name a known required_permission")
        membership = resolve_membership(request)
        if membership is None:
            # Three different people land here: a platform admin (no clinic of their own), someone whose only
            # organizations are suspended, and someone removed from every organization.
            context = {"suspended": has_suspended_only(request.user)}
            return render(request, "accounts/no_organization.html", context, status=403)
        request.membership = membership
        request.organization = membership.organization
        if not role_has(membership.role, self.required_permission):
            raise PermissionDenied("Your role does not allow this.")
        # One transaction per request on PostgreSQL: Row-Level Security's setting is transaction-local.
        try:
            # The scope outlives the transaction: on_commit work (publishing a task) runs inside it.
            stores_files = request.method in self.stores_files_on
            with organization_scope(request.organization), nullcontext() if stores_files else tenant_transaction():
                response = super().dispatch(request, *args, **kwargs)
                # Render inside the scope: templates evaluate lazy querysets.
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response = response.render()
        except DatabaseError as error:
            if not row_security_errors.is_refusal(error):
                raise
            raise Http404("Not found.") from None  # the database refused another organization's row
        return response

    def has_permission(self, permission: str) -> bool:
        return role_has(self.request.membership.role, permission)
