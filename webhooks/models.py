"""Webhook endpoints of an organization's partner systems, and the record of each delivery to them.

A delivery row names the event and the object it is about, never the body: the body is the object's API
representation, rendered when the attempt is made, so no copy of patient data waits in this table.
"""

import secrets
import uuid
from base64 import b64encode

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.tenancy import TenantModel
from medilens.crypto.fields import EncryptedCharField

EVENT_TYPES = (
    "assessment.completed",
    "assessment.failed",
    "assessment.signed_off",
    "patient.created",
    "patient.updated",
)
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(32)).decode("ascii")


class WebhookEndpoint(TenantModel):
    class Health(models.TextChoices):
        HEALTHY = "healthy", "Healthy"
        FAILING = "failing", "Failing"

    # Known before the insert: it is part of each sealed secret's associated data.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret = EncryptedCharField(max_length=100)
    # For WEBHOOK_PREVIOUS_SECRET_SECONDS after a rotation every delivery is signed with both secrets.
    previous_secret = EncryptedCharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=10, choices=Health.choices, default=Health.HEALTHY)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Webhook endpoint {self.pk}"

    def signing_secrets(self, now=None) -> list[str]:
        now = now or timezone.now()
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            keys.append(self.previous_secret)
        return keys


class WebhookDelivery(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    OPEN = (Status.PENDING, Status.RETRYING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The Standard Webhooks message id: the same on every attempt of one event (receivers deduplicate on it).
    message_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    event_at = models.DateTimeField()
    object_type = models.CharField(max_length=20)  # "assessment" or "patient"
    object_id = models.UUIDField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while an attempt is under way: a worker that dies mid-attempt leaves it set, and the redelivered
    # message takes the delivery over once the attempt cannot still be running (delivery.claim).
    in_flight_since = models.DateTimeField(null=True, blank=True)
    # Retries go on for WEBHOOK_RETRY_WINDOW_SECONDS from here (the event, or a resend by hand).
    window_started_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # Why the last attempt did not succeed, in our words (never the receiver's response body).
    last_error = models.CharField(max_length=200, blank=True)
    manual = models.BooleanField(default=False, help_text="Re-sent by hand.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"{self.event_type} to {self.endpoint_id} ({self.status})"
