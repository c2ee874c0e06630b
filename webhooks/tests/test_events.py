"""Emitting: one delivery per subscribed, enabled endpoint of the event's own organization, written in the
caller's transaction (a rolled-back change sends nothing)."""

import json
from datetime import datetime

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_patient
from webhooks import events, payloads, services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


def _endpoint(tenant, events_wanted, enabled=True):
    with organization_scope(tenant.organization):
        endpoint, _ = services.create_endpoint(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, url=URL, events=events_wanted,
            enabled=enabled,
        )
    return endpoint


def _deliveries():
    with scopes_disabled():
        return sorted(WebhookDelivery.objects.values_list("endpoint_id", "event_type"))


def test_only_subscribed_enabled_endpoints_of_the_same_organization_get_a_delivery(tenant_a, tenant_b):
    wanted = _endpoint(tenant_a, ["patient.created", "patient.updated"])
    _endpoint(tenant_a, ["assessment.completed"])
    _endpoint(tenant_a, ["patient.created"], enabled=False)
    _endpoint(tenant_b, ["patient.created"])
    patient = make_patient(tenant_a)
    assert _deliveries() == [(wanted.pk, "patient.created")]
    # Outside any scope (the demo seed, a management command): the event's organization is the scope.
    with transaction.atomic():
        events.emit(organization_id=tenant_a.organization.pk, event_type="patient.updated", obj=patient)
    assert _deliveries() == sorted([(wanted.pk, "patient.created"), (wanted.pk, "patient.updated")])


def test_a_change_that_rolls_back_leaves_no_delivery(tenant_a):
    _endpoint(tenant_a, ["patient.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        make_patient(tenant_a)
        raise RuntimeError("the request fails after the patient was saved")
    assert _deliveries() == []


def test_an_unknown_event_is_refused(tenant_a):
    patient = make_patient(tenant_a)
    with pytest.raises(ValueError), transaction.atomic():
        events.emit(organization_id=tenant_a.organization.pk, event_type="patient.deleted", obj=patient)


def test_a_reanalysis_sends_assessment_completed_again_as_an_event_of_its_own(tenant_a):
    """Each completed analysis is an event: a re-analysis's completion is delivered with its own webhook-id
    (a receiver that deduplicates on webhook-id must not drop it as a retry of the first)."""
    from assessments import pipeline, version_services
    from assessments.tests.portal import make_assessment
    from assessments.tests.portal import make_patient as make_assessed_patient

    endpoint = _endpoint(tenant_a, ["assessment.completed"])
    assessment = make_assessment(tenant_a, make_assessed_patient(tenant_a), run=True)
    with organization_scope(tenant_a.organization):
        version_services.reanalyse_assessment(
            actor=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, assessment=assessment
        )
        assert pipeline.run(assessment.pk) == "completed"
    with scopes_disabled():
        deliveries = list(WebhookDelivery.objects.order_by("event_at"))
    assert [(d.endpoint_id, d.event_type, d.object_id) for d in deliveries] == [
        (endpoint.pk, "assessment.completed", assessment.pk)
    ] * 2
    assert deliveries[0].message_id != deliveries[1].message_id
    # The body is rendered when an attempt is made: the first event, attempted now, shows the new version.
    first_completion = assessment.completed_at
    assessment.refresh_from_db()
    assert assessment.completed_at > first_completion
    with organization_scope(tenant_a.organization):
        sent = json.loads(payloads.body(deliveries[0]))
    assert sent["type"] == "assessment.completed"
    assert datetime.fromisoformat(sent["data"]["completed_at"]) == assessment.completed_at
