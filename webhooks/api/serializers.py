from rest_framework import serializers

from webhooks.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint


class EndpointSerializer(serializers.ModelSerializer):
    """The URL's form and target are checked by the service (webhooks.guard); the reason comes back as a
    field error on ``url``."""

    url = serializers.CharField(
        max_length=2000,
        help_text="Where deliveries are POSTed: https (in production), resolving to a public address.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False, max_length=len(EVENT_TYPES)
    )
    enabled = serializers.BooleanField(required=False, default=True)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "events", "enabled", "health", "failing_since",
            "previous_secret_expires_at", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "health", "failing_since", "previous_secret_expires_at", "created_at", "updated_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_...): shown only now. Store it; verify with it."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message_id", help_text="The webhook-id header of every attempt.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "webhook_id", "event_type", "event_at", "object_type", "object_id", "status", "attempts",
            "last_attempt_at", "last_response_code", "last_error", "next_attempt_at", "manual", "created_at",
        ]
        read_only_fields = fields
