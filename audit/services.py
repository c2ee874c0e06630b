"""``record``: the one way to write an audit event.

It appends: no lock, no read of the chain. On PostgreSQL it is one INSERT: the id comes from the
database's counter and triggers make it the event's append number (``sequence``) and queue the event for
sealing, all in that statement. On SQLite (the embedded default) it reads the next id first, inside its
write transaction, which SQLite makes exclusive anyway. The sealer (``audit.sealing``) later chains events
in order under a keyed MAC. Until then an event can be removed by someone with write access to the table
without a trace: that window is the sealer's interval (README, "Audit trail").

Call it inside the transaction of the change it describes: the event commits or rolls back with it.
"""

import ipaddress
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from . import context
from .models import AuditEvent

# Values under these keys would be PHI or secrets; details must carry identifiers, not values.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"password", "token", "key", "secret", "name", "given_name", "family_name", "date_of_birth", "notes"}
)


def _next_sqlite_event_id() -> int:
    """SQLite: every write transaction holds the database's write lock (BEGIN IMMEDIATE), so no other writer
    can take the same number first; the AUTOINCREMENT counter is read too, so a number is never reused."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_auditevent'), 0),"
            " COALESCE((SELECT MAX(id) FROM audit_auditevent), 0)) + 1"
        )
        return int(cursor.fetchone()[0])


# Events recorded inside ``batched()``: written together when it ends.
_batch: ContextVar[list[AuditEvent] | None] = ContextVar("audit_batch", default=None)


@contextmanager
def batched():
    """Events recorded inside the block are written together, in one INSERT, when it ends without an
    exception: use it inside the transaction of the changes they describe, which then commit or roll back
    with them as before. The pipeline's one-transaction run records two (running, completed): one
    statement instead of two (benchmarks/pipeline_throughput.py). ``record`` returns such an event before
    it has its id. On SQLite, and nested in another batch, events are appended one by one as usual."""
    if connection.vendor != "postgresql" or _batch.get() is not None:
        yield
        return
    events: list[AuditEvent] = []
    token = _batch.set(events)
    try:
        yield
    finally:
        _batch.reset(token)
    if events:
        # One statement, atomic by itself; the triggers number and queue each row as for a single insert.
        AuditEvent.objects.bulk_create(events)
        for event in events:
            event.sequence = event.pk


def _append(event: AuditEvent) -> None:
    pending = _batch.get()
    if pending is not None:
        pending.append(event)
        return
    if connection.vendor == "postgresql":
        # One statement, atomic by itself: the id from the identity counter (never blocks; a rolled-back
        # event leaves a gap in append numbers, never in a chain), sequence and queue row by trigger.
        event.save(force_insert=True)
        event.sequence = event.pk
        return
    with transaction.atomic(savepoint=False):
        event.id = event.sequence = _next_sqlite_event_id()
        event.save(force_insert=True)


def _actor_fields(actor) -> dict:
    from accounts.models import ApiClient

    if actor is None:
        return {"actor_type": AuditEvent.ActorType.SYSTEM, "actor_label": "system"}
    if isinstance(actor, str):
        # A named system actor ("system:reaper") or an anonymous caller ("anonymous").
        kind = AuditEvent.ActorType.ANONYMOUS if actor == "anonymous" else AuditEvent.ActorType.SYSTEM
        return {"actor_type": kind, "actor_label": actor[:300]}
    if isinstance(actor, ApiClient):
        return {
            "actor_type": AuditEvent.ActorType.API_CLIENT,
            "actor_api_client": actor,
            "actor_label": f"api:{actor.name} ({actor.key_prefix})"[:300],
        }
    if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None):
        return {"actor_type": AuditEvent.ActorType.USER, "actor_user": actor, "actor_label": actor.email[:300]}
    return {"actor_type": AuditEvent.ActorType.ANONYMOUS, "actor_label": "anonymous"}


def _forbidden_keys(value) -> set[str]:
    # Nested too: {"changes": {"given_name": ...}} carries PHI just as much as a top-level key does.
    if isinstance(value, dict):
        found = {k for k in value if isinstance(k, str) and k.lower() in _FORBIDDEN_DETAIL_KEYS}
        return found.union(*(_forbidden_keys(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_forbidden_keys(v) for v in value))
    return set()


def _check_details(details: dict) -> dict:
    bad = sorted(_forbidden_keys(details))
    if bad:
        raise ValueError(f"audit details must not carry PHI or secrets (keys: {', '.join(bad)})")
    return details


def _address(value: str | None) -> str | None:
    """The client address in the form the database gives back (PostgreSQL's inet prints IPv6 compressed
    and lower-case), so the hash covers what is stored; a value that is no address is left out rather
    than failing the change being audited."""
    try:
        address = ipaddress.ip_address((value or "").split("%")[0].strip())
    except ValueError:
        return None
    return clean_ipv6_address(str(address)) if address.version == 6 else str(address)


def record(
    *,
    action: str,
    actor=None,
    organization=None,
    organization_id: int | None = None,
    target=None,
    target_type: str = "",
    target_id: str | int = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event for its organization (or the platform when organization is None).

    ``target`` may be a model instance (its label and pk are used) or left out in favour of
    ``target_type``/``target_id``. ``organization_id`` may stand in for ``organization`` (saves loading it).

    It joins the caller's transaction without a savepoint: an event that cannot be written rolls back the
    change it describes, as it should.
    """
    if not action or "." not in action:
        raise ValueError("audit actions are dotted verbs, e.g. 'patient.viewed'")
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target.pk
    request = context.current()
    if organization is not None and organization_id is not None and organization.pk != organization_id:
        raise ValueError("organization and organization_id disagree")
    org_id = organization.pk if organization is not None else organization_id
    # Checked before any database work: a refused event leaves the caller's transaction usable.
    details = _check_details(dict(details or {}))
    actor_fields = _actor_fields(actor)
    event = AuditEvent(
        occurred_at=timezone.now(),
        organization_id=org_id,
        action=action,
        target_type=str(target_type)[:100],
        target_id=str(target_id)[:100],
        ip=_address(request.ip),
        user_agent=request.user_agent,
        request_id=request.request_id,
        outcome=outcome,
        details=details,
        **actor_fields,
    )
    _append(event)
    return event


@dataclass(frozen=True)
class Export:
    """The rows of one export, bounded to the log as it stood when the export was recorded: events
    written while the file streams (the export's own event among them) are not in it, so the count in
    the event is the count in the file."""

    events: QuerySet
    rows: int


def export_events(*, acting_user, organization, filters: dict) -> Export:
    """Record that ``acting_user`` exported the organization's log with ``filters``; returns the rows to
    stream. Nothing is read here but a count: the caller iterates the rows as it writes them."""
    from .selectors import organization_events

    last = (
        AuditEvent.objects.filter(organization=organization).order_by("-sequence").values_list("sequence", flat=True)
    ).first()
    events = organization_events(organization, filters=filters).filter(sequence__lte=last or 0)
    with transaction.atomic():
        rows = events.count()
        record(
            action="audit.exported",
            actor=acting_user,
            organization=organization,
            details={"filters": {key: str(value) for key, value in filters.items()}, "rows": rows},
        )
    return Export(events=events, rows=rows)
