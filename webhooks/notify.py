"""Telling an organization's admins that one of its webhook endpoints is failing (by email: there is no
in-app notification yet). The message names the endpoint's host and the portal page, nothing of a patient."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from accounts.tenancy import organization_scope

logger = logging.getLogger(__name__)


def endpoint_failing(endpoint) -> int:
    with organization_scope(endpoint.organization):
        emails = list(
            Membership.objects.filter(
                organization=endpoint.organization, role=Role.ORG_ADMIN, user__is_active=True
            ).values_list("user__email", flat=True)
        )
    if not emails:
        return 0
    host = urlsplit(endpoint.url).hostname or "the endpoint"
    hours = round(settings.WEBHOOK_RETRY_WINDOW_SECONDS / 3600, 1)
    link = settings.PORTAL_BASE_URL.rstrip("/") + reverse("webhooks:endpoints")
    try:
        return send_mail(
            "MediLens: a webhook endpoint is failing",
            f"Deliveries to the webhook endpoint at {host} ({endpoint.organization.name}) have failed for "
            f"{hours:g} hours, retries included. It is marked failing; new events are still attempted.\n\n"
            f"See its deliveries and resend them: {link}\n",
            settings.DEFAULT_FROM_EMAIL,
            emails,
        )
    except Exception:
        logger.exception("could not email the admins about failing webhook endpoint %s", endpoint.pk)
        return 0
