"""Reads of the audit log. AuditEvent is not behind the django-scopes guard (platform events have no
organization), so every read here names the organization explicitly; views never query it directly."""

from datetime import datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import RENAMED_ACTIONS, AuditEvent


def organization_events(organization, *, filters: dict | None = None) -> QuerySet[AuditEvent]:
    # The seal comes along (one LEFT JOIN): pages show each event's place in the chain, or that it awaits it.
    events = AuditEvent.objects.filter(organization=organization).select_related(
        "actor_user", "actor_api_client", "seal"
    )
    filters = filters or {}
    if filters.get("action"):
        wanted = filters["action"]
        old_names = [old for old, new in RENAMED_ACTIONS.items() if new.startswith(wanted)]
        events = events.filter(Q(action__startswith=wanted) | Q(action__in=old_names))
    if filters.get("actor"):
        events = events.filter(actor_label__icontains=filters["actor"])
    if filters.get("outcome"):
        events = events.filter(outcome=filters["outcome"])
    if filters.get("date_from"):
        start = timezone.make_aware(datetime.combine(filters["date_from"], time.min))
        events = events.filter(occurred_at__gte=start)
    if filters.get("date_to"):
        end = timezone.make_aware(datetime.combine(filters["date_to"], time.max))
        events = events.filter(occurred_at__lte=end)
    return events.order_by("-sequence")



def organization_actions(organization) -> list[str]:
    """The distinct actions of the organization's log, for the filter's list (the (organization, action)
    index answers it)."""
    return list(
        AuditEvent.objects.filter(organization=organization)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
