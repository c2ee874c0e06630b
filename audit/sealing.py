"""The sealer: gives appended events their place in their organization's chain, in order, under one lock.

Writers never wait for it: ``record`` appends and a database trigger queues the event (``PendingSeal``).
The sealer takes the one sealer lock, reads the queue in append order, and for each event writes an
``AuditSeal``: the next sequence of the event's chain and an HMAC-SHA256 (``audit.keys``) over the
event's content, its place and the previous MAC. The queue rows go in the same transaction, so an event
is sealed exactly once. It runs from beat (``audit.tasks``, every few seconds) and on demand from
``verify_audit_chain``; a checkpoint of every chain's head goes to storage after each seal that sealed
something (``audit.checkpoints``).

Order: events are sealed in append order among those committed when the sealer looks. An event whose
transaction commits later than events appended after it is sealed in a later batch, so each writer's
events keep their own order and an event that committed before another was appended always comes first.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from . import keys
from .models import AuditEvent, AuditSeal, ChainCutover, PendingSeal, canonical_json

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
SEAL_FORMAT = "medilens-audit-seal/1"
BATCH_SIZE = 1000
# Keeps the sealer's advisory lock apart from anyone else's (the pair (namespace, key) is the lock).
_ADVISORY_NAMESPACE = 0x4D4C
_SEALER_LOCK_KEY = -1


@dataclass(frozen=True)
class Head:
    sequence: int
    mac: str


@dataclass
class SealRun:
    sealed: int = 0
    chains: set = field(default_factory=set)
    skipped: bool = False  # another sealer held the lock


def seal_message(event: AuditEvent, *, sequence: int, previous_mac: str, key_id: str, sealed_at: datetime) -> bytes:
    """What a seal's MAC covers: the event's whole content and id, its place in the chain, the previous
    MAC, the key id and the sealing time."""
    return canonical_json(
        {
            "format": SEAL_FORMAT,
            "chain": event.organization_id,
            "sequence": sequence,
            "previous": previous_mac,
            "key_id": key_id,
            "sealed_at": sealed_at.isoformat(timespec="microseconds"),
            "event_id": event.pk,
            "event": event.content(),
        }
    )


def seal_mac(key: keys.Key, seal: AuditSeal, event: AuditEvent) -> str:
    return key.mac(
        seal_message(
            event, sequence=seal.sequence, previous_mac=seal.previous_mac, key_id=seal.key_id, sealed_at=seal.sealed_at
        )
    )


def chain_head(organization_id: int | None) -> Head:
    """The newest sealed place of a chain; the legacy cut-over when nothing is sealed yet; else genesis."""
    last = (
        AuditSeal.objects.filter(organization_id=organization_id)
        .order_by("-sequence")
        .values_list("sequence", "mac")
        .first()
    )
    if last is not None:
        return Head(*last)
    cutover = ChainCutover.objects.filter(organization_id=organization_id).values_list("sequence", "hash").first()
    if cutover is not None:
        return Head(*cutover)
    return Head(0, GENESIS)


def _take_lock(wait: bool) -> bool:
    """The sealer lock, held to the end of the transaction. SQLite needs none: its write transactions
    are exclusive already (BEGIN IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, _SEALER_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, _SEALER_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def check_key_matches_chain(key: keys.Key) -> None:
    """Refuse to seal with a key the chains were not sealed with: a wrong AUDIT_HMAC_KEY would otherwise
    start sealing events under a key nobody can verify with later."""
    last_key_id = AuditSeal.objects.order_by("-id").values_list("key_id", flat=True).first()
    if last_key_id is not None and last_key_id not in keys.by_id():
        raise keys.KeyProblem(
            f"the newest seal was made with key id {last_key_id}, which AUDIT_HMAC_KEY does not hold "
            f"(the configured signing key has id {key.key_id}): refusing to seal with another key. To rotate, "
            "put the new key first in AUDIT_HMAC_KEY and keep the old one after it."
        )


def _seal_batch(key: keys.Key, batch_size: int) -> list[AuditEvent]:
    """One transaction: the oldest queued events, sealed in order, their queue rows removed."""
    ids = list(PendingSeal.objects.order_by("event_id").values_list("event_id", flat=True)[:batch_size])
    if not ids:
        return []
    events = list(AuditEvent.objects.filter(id__in=ids).order_by("id"))
    missing = set(ids) - {event.pk for event in events}
    if missing:
        # Queued, then removed before its seal: the window README names. Said loudly, by id only.
        logger.error("audit events %s were removed before they were sealed", sorted(missing))
    sealed_at = timezone.now()
    heads: dict[int | None, Head] = {}
    seals = []
    for event in events:
        chain = event.organization_id
        head = heads[chain] if chain in heads else chain_head(chain)
        seal = AuditSeal(
            organization_id=chain,
            sequence=head.sequence + 1,
            event=event,
            previous_mac=head.mac,
            key_id=key.key_id,
            sealed_at=sealed_at,
        )
        seal.mac = seal_mac(key, seal, event)
        heads[chain] = Head(seal.sequence, seal.mac)
        seals.append(seal)
    AuditSeal.objects.bulk_create(seals)
    PendingSeal.objects.filter(event_id__in=ids).delete()
    return events


def seal_pending(*, wait: bool = True, batch_size: int = BATCH_SIZE, on_batch=None) -> SealRun:
    """Seal every queued event. ``wait=False`` (beat) returns at once when another sealer is running.
    ``on_batch(events)`` runs after each batch commits (the bulk-access monitor)."""
    key = keys.signing_key()
    run = SealRun()
    checked = False
    while True:
        with transaction.atomic():
            if not _take_lock(wait):
                run.skipped = True
                return run
            if not checked:
                check_key_matches_chain(key)
                checked = True
            events = _seal_batch(key, batch_size)
        if not events:
            return run
        run.sealed += len(events)
        run.chains.update(event.organization_id for event in events)
        if on_batch is not None:
            on_batch(events)
        if len(events) < batch_size:
            return run
