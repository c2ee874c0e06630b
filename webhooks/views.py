"""The webhooks page for organization admins: endpoints and their recent deliveries (resend by hand), and
which API clients may manage endpoints themselves."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from accounts import services as account_services
from accounts.access import OrganizationMixin
from accounts.confirmation import confirmation_page, is_confirmed
from accounts.models import ApiClient
from medilens.form_errors import add_form_errors

from . import selectors, services
from .forms import EndpointForm
from .models import WebhookDelivery, WebhookEndpoint


def _page(request, *, form=None, new_secret=None, status=200):
    organization = request.organization
    response = render(
        request,
        "webhooks/endpoints.html",
        {
            "endpoints": selectors.endpoints_with_recent_deliveries(organization),
            "clients": selectors.active_api_clients(organization),
            "form": form or EndpointForm(),
            "new_secret": new_secret,
        },
        status=status,
    )
    if new_secret:
        response["Cache-Control"] = "no-store"  # the secret is on this response only
    return response


class EndpointsView(OrganizationMixin, View):
    required_permission = "webhooks.manage"

    def get(self, request):
        return _page(request)

    def post(self, request):
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = services.create_endpoint(
                    actor=request.user, organization=request.organization, **form.cleaned_data
                )
            except ValidationError as error:
                add_form_errors(form, error)
            else:
                return _page(request, new_secret={"endpoint": endpoint, "secret": secret})
        return _page(request, form=form, status=400)


class EndpointActionView(OrganizationMixin, View):
    """Rotate the secret, enable or disable, or delete one endpoint (``action`` in the URL conf)."""

    required_permission = "webhooks.manage"
    action = ""

    def post(self, request, pk):
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk, organization=request.organization)
        common = {"actor": request.user, "organization": request.organization, "endpoint_id": endpoint.pk}
        if self.action == "rotate":
            endpoint, secret = services.rotate_secret(**common)
            return _page(request, new_secret={"endpoint": endpoint, "secret": secret, "rotated": True})
        if self.action == "toggle":
            endpoint = services.update_endpoint(**common, enabled=not endpoint.enabled)
            messages.success(request, f"Endpoint {'enabled' if endpoint.enabled else 'disabled'}.")
        elif self.action == "delete":
            # Deleting drops the endpoint's delivery records too: one more step, as for removing a member.
            if not is_confirmed(request):
                return confirmation_page(
                    request,
                    title="Delete webhook endpoint",
                    question=f"Delete the endpoint {endpoint.url}?",
                    consequences="No more events are sent to it, and its delivery records are deleted with it. "
                    "Disable it instead to pause deliveries and keep the records.",
                    confirm_label="Delete endpoint",
                    cancel_url=reverse("webhooks:endpoints"),
                )
            services.delete_endpoint(**common)
            messages.success(request, "Endpoint deleted, with its delivery records.")
        return redirect("webhooks:endpoints")


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
