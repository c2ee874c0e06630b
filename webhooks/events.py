"""Emitting events: the services that change patients and assessments call ``emit`` inside their
transaction; a delivery row per subscribed endpoint is written in that same transaction (nothing is sent
for a change that rolls back) and its task is published on commit."""

from __future__ import annotations

import logging
import uuid

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.tenancy import organization_id_scope

from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def publish(delivery_id, attempt: int, *, countdown: float = 0) -> None:
    """Queue one attempt of a delivery; a broker that is down leaves the row due for the beat sweep."""
    from django.conf import settings

    from .tasks import deliver

    try:
        deliver.apply_async(args=[str(delivery_id), attempt], queue=settings.WEBHOOK_QUEUE, countdown=countdown)
    except Exception:
        logger.exception("could not publish webhook delivery %s; the sweep will", delivery_id)


def publish_on_commit(delivery_ids: list, attempt: int = 1) -> None:
    ids = [str(pk) for pk in delivery_ids]
    if ids:
        transaction.on_commit(lambda: [publish(pk, attempt) for pk in ids])


# The name of the annotation ``endpoints_exist()`` puts on a row (assessments.status_services.lock).
ENDPOINTS_EXIST = "webhook_endpoints_exist"


def endpoints_exist(model) -> RawSQL:
    """For a query of ``model`` (a tenant model: it has an ``organization_id``): whether that organization has
    an enabled endpoint. Annotated as ``ENDPOINTS_EXIST`` on the row a service locks before it emits, it
    saves ``emit`` its own query when there is none (most organizations: one statement fewer per finished
    assessment). It is read in the same transaction as the emit, a statement earlier: an endpoint committed
    between the two is treated as one created just after the event, as it would be a moment later.

    Plain SQL rather than ``Exists(...)``: the ORM's subquery cost 0.65 ms per lock to build, this 0.2 ms
    (benchmarks/pipeline_throughput.py). Its identifiers come from the models' metadata; Row-Level Security
    applies to it as to any query, and it names the outer row's own organization only."""
    quote = connection.ops.quote_name
    endpoints = WebhookEndpoint._meta
    organization = quote(endpoints.get_field("organization").column)
    sql = (
        f"EXISTS (SELECT 1 FROM {quote(endpoints.db_table)} endpoint WHERE endpoint.{organization} = "  # noqa: S608 (identifiers from model metadata, quoted; no values)
        f"{quote(model._meta.db_table)}.{quote(model._meta.get_field('organization').column)} "
        f"AND endpoint.{quote(endpoints.get_field('enabled').column)})"
    )
    return RawSQL(sql, (), output_field=BooleanField())  # noqa: S611 (identifiers from model metadata, quoted; no values)


def emit(*, organization_id: int, event_type: str, obj) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint of the organization that asked for this event type. ``obj`` annotated
    with ``ENDPOINTS_EXIST`` False (``endpoints_exist``): none, and nothing is read."""
    if not organization_id:
        raise ValueError("an event belongs to an organization")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit joins the caller's transaction")
    if getattr(obj, ENDPOINTS_EXIST, None) is False:
        return []
    # The event's own organization is the scope (a caller such as the demo seed may run outside one).
    with organization_id_scope(organization_id):
        return _deliveries(organization_id, event_type, obj)


def _deliveries(organization_id: int, event_type: str, obj) -> list[WebhookDelivery]:
    candidates = WebhookEndpoint.objects.filter(organization_id=organization_id, enabled=True)
    endpoints = [
        endpoint
        for endpoint in candidates.only("id", "organization_id", "events")
        if event_type in endpoint.events  # in Python: SQLite (the embedded default) has no JSON containment
    ]
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                endpoint=endpoint,
                message_id=new_message_id(),
                event_type=event_type,
                event_at=now,
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                next_attempt_at=now,
                window_started_at=now,
            )
            for endpoint in endpoints
        ]
    )
    publish_on_commit([d.pk for d in deliveries])
    return deliveries
