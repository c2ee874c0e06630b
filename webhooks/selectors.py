"""Reads for the webhooks portal page (inside the organization's scope)."""

from accounts.models import ApiClient

from .models import WebhookDelivery, WebhookEndpoint

RECENT = 20


def endpoints_with_recent_deliveries(organization) -> list[WebhookEndpoint]:
    endpoints = list(WebhookEndpoint.objects.filter(organization=organization))
    for endpoint in endpoints:
        deliveries = WebhookDelivery.objects.filter(organization=organization, endpoint=endpoint)
        endpoint.recent = list(deliveries.order_by("-created_at")[:RECENT])
    return endpoints


def active_api_clients(organization):
    return ApiClient.objects.filter(organization=organization, revoked_at__isnull=True).order_by("name")
