"""Who a discussion message mentions.

Syntax: ``@`` followed by a member's email address (``@maria.lopez@clinic.example``), or by the part of
it before the ``@`` (``@maria.lopez``) when exactly one member of the organization has that part. Only
members of the message's organization whose role may manage notifications (not auditors, who read the
trail and take no part) can be mentioned; an unknown or ambiguous mention is plain text.
"""

import re

from accounts.models import Membership
from accounts.roles import PERMISSIONS

# "@" at the start or after a space or punctuation (not inside an email address), then a local part and
# optionally a domain.
MENTION = re.compile(r"(?<![\w.@+-])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def mentioned_handles(body: str) -> set[str]:
    return {match.rstrip(".").lower() for match in MENTION.findall(body or "")}


def mentioned_members(body: str, *, organization, exclude=None) -> list:
    """The active members of ``organization`` the body mentions (never ``exclude``, the author)."""
    handles = mentioned_handles(body)
    if not handles:
        return []
    roles = PERMISSIONS["notifications.manage"][1]
    members = Membership.objects.filter(organization=organization, user__is_active=True, role__in=roles).select_related(
        "user"
    )
    by_local: dict[str, list] = {}
    by_email = {}
    for membership in members:
        email = membership.user.email.lower()
        by_email[email] = membership.user
        by_local.setdefault(email.split("@", 1)[0], []).append(membership.user)
    found = {}
    for handle in handles:
        user = by_email.get(handle)
        if user is None and len(by_local.get(handle, [])) == 1:
            user = by_local[handle][0]
        if user is not None and user != exclude:
            found[user.pk] = user
    return list(found.values())
