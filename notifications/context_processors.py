"""The header's bell: the signed-in user's unread notifications in the active organization, counted only
when a page shows the bell (pages outside an organization have none)."""

from django.utils.functional import SimpleLazyObject

from accounts.tenancy import organization_scope


def unread(request):
    organization = getattr(request, "organization", None)
    user = getattr(request, "user", None)
    if organization is None or not getattr(user, "is_authenticated", False):
        return {}

    def count() -> int:
        from .models import Notification

        with organization_scope(organization):
            return Notification.objects.filter(recipient=user, read_at=None).count()

    return {"unread_notifications": SimpleLazyObject(count)}
