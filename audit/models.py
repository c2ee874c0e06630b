import hashlib
import json

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")

    def for_organization(self, organization):
        return self.filter(organization=organization)


class AuditEvent(models.Model):
    """One thing that happened. Append-only and hash-chained per organization.

    ``organization`` is null for platform events (sign-in, platform admin changes); those form their
    own chain. Details hold identifiers and field names, never PHI values.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        API_CLIENT = "api_client", "API client"
        SYSTEM = "system", "System"
        ANONYMOUS = "anonymous", "Anonymous"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    occurred_at = models.DateTimeField(db_index=True)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sequence = models.PositiveBigIntegerField()
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    # Protected references: a user or client with events is deactivated, never deleted, so no event
    # ever needs rewriting; the label keeps what the actor was called at the time.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_api_client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.SUCCESS)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sequence"],
                condition=models.Q(organization__isnull=False),
                name="audit_event_org_sequence_unique",
            ),
            models.UniqueConstraint(
                fields=["sequence"],
                condition=models.Q(organization__isnull=True),
                name="audit_event_platform_sequence_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"], name="audit_org_time_idx"),
            models.Index(fields=["organization", "action"], name="audit_org_action_idx"),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.action} by {self.actor_label or self.actor_type}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("audit events are append-only: they cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")

    # --- hash chain -------------------------------------------------------------------------------
    def canonical(self) -> bytes:
        """The bytes the hash covers: every recorded field, in a fixed order, as compact JSON."""
        payload = {
            "organization": self.organization_id,
            "sequence": self.sequence,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "actor_type": self.actor_type,
            "actor_user": self.actor_user_id,
            "actor_api_client": self.actor_api_client_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "details": self.details,
            "previous_hash": self.previous_hash,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()
