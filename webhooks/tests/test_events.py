"""Emitting: one delivery per subscribed, enabled endpoint of the event's own organization, written in the
caller's transaction (a rolled-back change sends nothing)."""

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_patient
from webhooks import events, services
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
