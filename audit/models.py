import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


# Actions renamed since events were written under their old names (sealed rows are never rewritten): the
# log shows an old name beside its current one, and a filter by the current name finds both.
RENAMED_ACTIONS = {"assessment.comment_posted": "discussion.posted"}


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")

    def for_organization(self, organization):
        return self.filter(organization=organization)


class AuditEvent(models.Model):
    """One thing that happened. Append-only; sealed into its organization's chain after it is written.

    ``organization`` is null for platform events (sign-in, platform admin changes); those form their
    own chain. Details hold identifiers and field names, never PHI values.

    ``record`` appends an event without any lock: ``sequence`` is the event's append number (its id,
    from the database's own counter) and ``previous_hash``/``hash`` stay empty. The sealer later gives it
    its place in the chain in an ``AuditSeal`` row (a MAC under a key the database never holds). Events
    written before that change keep the plain SHA-256 chain they were written with (``sequence`` 1..N per
    chain, ``previous_hash``, ``hash``) up to the cut-over ``ChainCutover`` records.
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
    # Legacy events: the place in the chain (1..N). Since: the append number, equal to the id (a trigger on
    # PostgreSQL, ``record`` on SQLite), so ordering by it is append order in every chain.
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
    # The legacy SHA-256 chain (events written before the cut-over); null on events the sealer chains.
    # The columns keep their old names; ``hash`` is now the chain value of any event (see below).
    legacy_previous_hash = models.CharField(max_length=64, null=True, blank=True, db_column="previous_hash")
    legacy_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, db_column="hash")

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
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only: they cannot be updated")
        # record() sets the id itself (its append number): never let Django try an UPDATE first.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    @property
    def current_action(self) -> str:
        """The action's name today: sealed events keep the name they were written with."""
        return RENAMED_ACTIONS.get(self.action, self.action)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only: they cannot be deleted")

    @property
    def is_legacy(self) -> bool:
        return self.legacy_hash is not None

    @property
    def chain_sequence(self) -> int | None:
        """The event's place in its organization's chain; None until it is sealed."""
        if self.is_legacy:
            return self.sequence
        seal = _loaded_seal(self)
        return seal.sequence if seal is not None else None

    @property
    def hash(self) -> str | None:
        """The chain value that covers this event: its seal's MAC, or its legacy SHA-256 hash; None until
        it is sealed. (Select the seal along, ``select_related("seal")``, when reading many.)"""
        if self.is_legacy:
            return self.legacy_hash
        seal = _loaded_seal(self)
        return seal.mac if seal is not None else None

    # --- what the chain covers -------------------------------------------------------------------------
    def content(self) -> dict:
        """Every recorded field, as the chain covers it (JSON-ready, fixed key names)."""
        return {
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
        }

    def canonical(self) -> bytes:
        """The bytes the legacy SHA-256 hash covers: the content and the previous hash, as compact JSON."""
        return canonical_json({**self.content(), "previous_hash": self.legacy_previous_hash})

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def canonical_json(payload) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _loaded_seal(event):
    try:
        return event.seal
    except AuditSeal.DoesNotExist:
        return None


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only: they cannot be deleted")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only: they cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only: they cannot be deleted")


class AuditSeal(AppendOnlyModel):
    """An event's place in its chain: sequence 1..N per organization (the platform chain has none),
    each MAC covering the event's content, its place and the previous MAC. Written only by the sealer,
    in order, under one lock; append-only like the events (model, queryset and database triggers)."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sequence = models.PositiveBigIntegerField()
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="seal")
    previous_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    sealed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "sequence"],
                condition=models.Q(organization__isnull=False),
                name="audit_seal_org_sequence_unique",
            ),
            models.UniqueConstraint(
                fields=["sequence"],
                condition=models.Q(organization__isnull=True),
                name="audit_seal_platform_sequence_unique",
            ),
        ]

    def __str__(self):
        return f"seal #{self.sequence} of event {self.event_id}"


class ChainCutover(AppendOnlyModel):
    """Where a chain's legacy SHA-256 segment ends: its last sequence and hash when sealing began. The
    first seal of the chain links to that hash, so the legacy segment is covered by the keyed chain."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    recorded_at = models.DateTimeField()

    class Meta:
        # One cut-over per chain, the platform chain (no organization) included.
        constraints = [
            models.UniqueConstraint(Coalesce("organization", Value(0)), name="audit_cutover_chain_unique"),
        ]

    def __str__(self):
        return f"legacy chain of organization {self.organization_id} ends at #{self.sequence}"


class PendingSeal(models.Model):
    """The sealing queue: one row per event not sealed yet. A database trigger adds the row as the event
    is inserted (so no writer can forget it and no lock is taken); the sealer removes it in the
    transaction that seals the event. Not part of the record: it is work to do."""

    event_id = models.BigIntegerField(primary_key=True)

    def __str__(self):
        return f"event {self.event_id} waiting for its seal"


class RecentPatientRead(models.Model):
    """Which patients each actor read lately, kept by the sealer (off the request path) to spot unusual
    bulk access; rows older than the window are removed."""

    organization_id = models.BigIntegerField()
    actor = models.CharField(max_length=40)
    patient_id = models.CharField(max_length=100)
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "actor", "patient_id"], name="audit_recent_read_unique"
            )
        ]
        indexes = [
            models.Index(fields=["organization_id", "actor", "last_read_at"], name="audit_recent_read_idx"),
            models.Index(fields=["last_read_at"], name="audit_recent_read_age_idx"),
        ]

    def __str__(self):
        return f"{self.actor} read patient {self.patient_id}"
