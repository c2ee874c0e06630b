"""In-app notifications and each user's email choices.

A notification belongs to one recipient in one organization and is unique per (recipient, event key):
the task that creates it may run twice (a redelivered message, acks_late) and still makes one row and
sends one email.
"""

from django.conf import settings
from django.db import models

from accounts.tenancy import TenantModel

from .kinds import Kind


class Notification(TenantModel):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # What happened to what, e.g. "assessment_completed:<assessment id>": one notification per event and
    # recipient, however often the task runs.
    event_key = models.CharField(max_length=120)
    # A path inside the portal (the assessment, the audit log): no patient data in it.
    link = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "event_key"], name="notification_once_per_event")
        ]
        indexes = [
            models.Index(fields=["organization", "recipient", "-created_at"], name="notification_inbox_idx"),
        ]

    def __str__(self):
        return f"{self.kind} for user {self.recipient_id}"

    @property
    def text(self) -> str:
        return Kind(self.kind).label if self.kind in Kind.values else self.kind


class EmailPreference(models.Model):
    """A user's choice for one kind; no row means the kind's default (kinds.EMAIL_BY_DEFAULT)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    email = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="email_preference_once_per_kind")]

    def __str__(self):
        return f"{self.kind}: {'email' if self.email else 'no email'}"
