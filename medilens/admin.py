"""The admin site for platform staff.

Staff work across tenants, so every admin view runs with the tenancy guard explicitly disabled (and its
template rendered inside that block); the portal and the API never do.
"""

import json

from django.contrib import admin

import audit
from accounts.tenancy import scopes_disabled


class MediLensAdminSite(admin.AdminSite):
    site_header = "MediLens platform administration"
    site_title = "MediLens admin"
    index_title = "Tenants, users and models"

    def admin_view(self, view, cacheable=False):
        def unscoped(request, *args, **kwargs):
            with scopes_disabled():
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response = response.render()
            return response

        unscoped.__dict__.update(getattr(view, "__dict__", {}))
        unscoped.__name__ = getattr(view, "__name__", "admin_view")
        return super().admin_view(unscoped, cacheable)


def _organization_of(obj):
    from accounts.models import Organization

    if isinstance(obj, Organization):
        return obj
    return getattr(obj, "organization", None) if getattr(obj, "organization_id", None) else None


def _fields_from_message(message) -> list[str]:
    """Admin change messages name changed fields (never values); keep just the names."""
    if not message:
        return []
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            return []
    names = []
    for entry in message:
        for kind in ("added", "changed", "deleted"):
            names.extend(entry.get(kind, {}).get("fields", []) if isinstance(entry.get(kind), dict) else [])
    return sorted(set(names))


class AuditedModelAdmin(admin.ModelAdmin):
    """Every add, change and delete made in admin is an audit event as well as an admin log entry."""

    def _audit(self, request, obj, verb, message=None):
        audit.record(
            action=f"admin.{obj._meta.model_name}_{verb}",
            actor=request.user,
            organization=_organization_of(obj),
            target=obj,
            details={"fields": _fields_from_message(message)} if message else {},
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "added", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "changed", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted")
        return super().log_deletions(request, queryset)
