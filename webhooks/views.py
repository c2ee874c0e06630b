"""The webhooks page for organization admins: endpoints and their recent deliveries (resend by hand), and
which API clients may manage endpoints themselves."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from accounts import services as account_services
from accounts.access import OrganizationMixin
from accounts.models import ApiClient

from . import selectors, services
from .models import WebhookDelivery


class EndpointsView(OrganizationMixin, View):
    required_permission = "webhooks.manage"

    def get(self, request):
        organization = request.organization
        return render(
            request,
            "webhooks/endpoints.html",
            {
                "endpoints": selectors.endpoints_with_recent_deliveries(organization),
                "clients": selectors.active_api_clients(organization),
            },
        )


class ResendView(OrganizationMixin, View):
    required_permission = "webhooks.manage"

    def post(self, request, pk):
        delivery = get_object_or_404(WebhookDelivery, pk=pk, organization=request.organization)
        try:
            services.resend_delivery(
                actor=request.user, organization=request.organization, endpoint_id=delivery.endpoint_id,
                delivery_id=delivery.pk,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"The {delivery.event_type} event is queued to be sent again.")
        return redirect("webhooks:endpoints")


class ClientGrantView(OrganizationMixin, View):
    required_permission = "webhooks.manage"

    def post(self, request, pk):
        client = get_object_or_404(ApiClient, pk=pk, organization=request.organization)
        granted = request.POST.get("grant") == "on"
        try:
            account_services.set_api_client_webhook_grant(
                acting_user=request.user, organization=request.organization, client=client, granted=granted
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            verb = "may now manage" if granted else "may no longer manage"
            messages.success(request, f"{client.name} {verb} webhook endpoints.")
        return redirect("webhooks:endpoints")
