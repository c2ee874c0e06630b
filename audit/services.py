"""``record``: the one way to write an audit event.

Call it inside the transaction of the change it describes, and last, so that the per-organization
lock that serializes the hash chain is held only briefly. On PostgreSQL that lock is a
transaction-scoped advisory lock; on SQLite (the embedded default) every write transaction is
already exclusive (``transaction_mode=IMMEDIATE``).
"""

import ipaddress
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from . import context
from .models import AuditEvent

GENESIS_HASH = "0" * 64
_ADVISORY_NAMESPACE = 0x4D4C  # "ML": keeps our advisory locks apart from anyone else's

# Values under these keys would be PHI or secrets; details must carry identifiers, not values.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"password", "token", "key", "secret", "name", "given_name", "family_name", "date_of_birth", "notes"}
)


def _lock_chain(organization_id: int | None) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, organization_id or 0]
            )


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
    """Append one event to its organization's chain (or the platform chain when organization is None).

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
    with transaction.atomic(savepoint=False):
        _lock_chain(org_id)
        last = (
            AuditEvent.objects.filter(organization_id=org_id)
            .order_by("-sequence")
            .values_list("sequence", "hash")
            .first()
        )
        sequence, previous_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = AuditEvent(
            occurred_at=timezone.now(),
            organization_id=org_id,
            sequence=sequence,
            action=action,
            target_type=str(target_type)[:100],
            target_id=str(target_id)[:100],
            ip=_address(request.ip),
            user_agent=request.user_agent,
            request_id=request.request_id,
            outcome=outcome,
            details=details,
            previous_hash=previous_hash,
            **actor_fields,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    return event


def verify_chain(organization_id: int | None):
    """Walk one chain in sequence order; return (count, first problem or None).

    A problem names the event and what is wrong: a gap or repeat in the sequence (a row removed or
    inserted), a previous-hash link that does not match (re-ordered or inserted), or a stored hash that
    does not match the row's content (edited).
    """
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    count = 0
    events = AuditEvent.objects.filter(organization_id=organization_id).order_by("sequence", "id")
    for event in events.iterator(chunk_size=2000):
        count += 1
        where = f"event id={event.pk} sequence={event.sequence} action={event.action}"
        if event.sequence != expected_sequence:
            return count, f"{where}: expected sequence {expected_sequence} (a row was removed or inserted)"
        if event.previous_hash != previous_hash:
            return count, f"{where}: previous-hash link broken (rows re-ordered or inserted)"
        if event.compute_hash() != event.hash:
            return count, f"{where}: content does not match its hash (row was changed)"
        previous_hash = event.hash
        expected_sequence += 1
    return count, None


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
    events = organization_events(organization, filters=filters).filter(sequence__lte=last or 0).select_related(None)
    with transaction.atomic():
        rows = events.count()
        record(
            action="audit.exported",
            actor=acting_user,
            organization=organization,
            details={"filters": {key: str(value) for key, value in filters.items()}, "rows": rows},
        )
    return Export(events=events, rows=rows)
