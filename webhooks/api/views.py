"""/api/v1/webhooks/: endpoints (CRUD), secret rotation, deliveries and resend. Every view needs
``webhooks.manage``: org admins hold it; an API client only when an org admin granted it."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.api import TenantAPIView
from assessments.api.idempotency import idempotent, with_resources
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .serializers import DeliverySerializer, EndpointSerializer, EndpointWithSecretSerializer


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"


def _errors(*codes):
    text = {
        400: "Invalid input; `error.fields` says which field and why (e.g. a URL that is private or not https).",
        401: "No or an invalid API key.",
        403: "The key may not manage webhooks (an org admin grants it), or the organization is suspended.",
        404: "No such endpoint or delivery in this organization.",
        409: "The delivery is still being attempted.",
        429: "Too many requests for this key.",
    }
    # No schema here: the API's schema hook gives every 4xx the one Error component (medilens/api_contract.py).
    return {code: OpenApiResponse(description=text[code]) for code in codes}


def _validation(error: DjangoValidationError):
    detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    raise serializers.ValidationError(detail)


class _WebhookView(TenantAPIView):
    required_permission = "webhooks.manage"

    def endpoint(self, pk) -> WebhookEndpoint:
        return get_object_or_404(WebhookEndpoint, pk=pk, organization=self.request.organization)


class EndpointListView(_WebhookView):
    pagination_class = Cursor

    @extend_schema(responses={200: EndpointSerializer(many=True), **_errors(401, 403, 429)})
    def get(self, request):
        paginator = Cursor()
        page = paginator.paginate_queryset(
            WebhookEndpoint.objects.filter(organization=request.organization), request, self
        )
        return paginator.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        request=EndpointSerializer,
        responses={201: EndpointWithSecretSerializer, **_errors(400, 401, 403, 429)},
        description="Register an endpoint. The response carries its signing secret, shown only this once. "
        "With an Idempotency-Key, a replay answers the endpoint as it is now, without the secret (rotate it to "
        "get a new one).",
    )
    @idempotent
    def post(self, request):
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint, secret = services.create_endpoint(
                actor=request.auth, organization=request.organization, **serializer.validated_data
            )
        except DjangoValidationError as error:
            _validation(error)
        data = EndpointWithSecretSerializer(endpoint).data
        return with_resources(Response({**data, "secret": secret}, status=status.HTTP_201_CREATED), [endpoint.pk])

    def replay(self, request, resource_ids):
        return EndpointSerializer(get_object_or_404(WebhookEndpoint, pk=resource_ids[0])).data


class EndpointDetailView(_WebhookView):
    @extend_schema(responses={200: EndpointSerializer, **_errors(401, 403, 404, 429)})
    def get(self, request, pk):
        return Response(EndpointSerializer(self.endpoint(pk)).data)

    def _update(self, request, pk, partial):
        endpoint = self.endpoint(pk)
        serializer = EndpointSerializer(endpoint, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = services.update_endpoint(
                actor=request.auth, organization=request.organization, endpoint_id=endpoint.pk,
                **serializer.validated_data,
            )
        except DjangoValidationError as error:
            _validation(error)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(request=EndpointSerializer, responses={200: EndpointSerializer, **_errors(400, 401, 403, 404, 429)})
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(request=EndpointSerializer, responses={200: EndpointSerializer, **_errors(400, 401, 403, 404, 429)})
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(responses={204: None, **_errors(401, 403, 404, 429)})
    def delete(self, request, pk):
        endpoint = self.endpoint(pk)
        services.delete_endpoint(actor=request.auth, organization=request.organization, endpoint_id=endpoint.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateView(_WebhookView):
    @extend_schema(
        request=None,
        responses={200: EndpointWithSecretSerializer, **_errors(401, 403, 404, 429)},
        description="A new signing secret (shown only now). For 24 hours deliveries carry the old secret's "
        "signature too, space-separated in `webhook-signature`.",
    )
    def post(self, request, pk):
        endpoint = self.endpoint(pk)
        endpoint, secret = services.rotate_secret(
            actor=request.auth, organization=request.organization, endpoint_id=endpoint.pk
        )
        return Response({**EndpointWithSecretSerializer(endpoint).data, "secret": secret})


class DeliveryListView(_WebhookView):
    pagination_class = Cursor

    @extend_schema(responses={200: DeliverySerializer(many=True), **_errors(401, 403, 404, 429)})
    def get(self, request, pk):
        endpoint = self.endpoint(pk)
        paginator = Cursor()
        deliveries = WebhookDelivery.objects.filter(organization=request.organization, endpoint=endpoint)
        page = paginator.paginate_queryset(deliveries, request, self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryResendView(_WebhookView):
    @extend_schema(
        request=None,
        responses={202: DeliverySerializer, **_errors(401, 403, 404, 409, 429)},
        description="Send the event again, with the same webhook-id and a fresh retry window.",
    )
    def post(self, request, pk, delivery_pk):
        endpoint = self.endpoint(pk)
        get_object_or_404(WebhookDelivery, pk=delivery_pk, endpoint=endpoint, organization=request.organization)
        try:
            delivery = services.resend_delivery(
                actor=request.auth, organization=request.organization, endpoint_id=endpoint.pk,
                delivery_id=delivery_pk,
            )
        except DjangoValidationError as error:
            return Response(
                {"error": {"status": 409, "code": "delivery_in_progress", "message": " ".join(error.messages)}},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
