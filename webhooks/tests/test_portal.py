"""The portal's Webhooks page: org admins see endpoints and deliveries, resend, and allow API clients."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import ApiClient
from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_patient
from webhooks import delivery as attempts
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _endpoint_with_a_failed_delivery(tenant):
    with organization_scope(tenant.organization):
        endpoint, _ = services.create_endpoint(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization,
            url="http://127.0.0.1:9/partner-inbox", events=["patient.created"],
        )
    make_patient(tenant)
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=4, last_response_code=503)
    return endpoint, delivery


def test_an_org_admin_sees_endpoints_and_deliveries_and_resends_one(tenant_a):
    endpoint, delivery = _endpoint_with_a_failed_delivery(tenant_a)
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    page = admin.get("/webhooks/").content.decode()
    assert "http://127.0.0.1:9/partner-inbox" in page and delivery.message_id in page and "HTTP 503" in page
    response = admin.post(f"/webhooks/deliveries/{delivery.pk}/resend/")
    assert response.status_code == 302
    with scopes_disabled():
        resent = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (resent.status, resent.manual) == ("pending", True)
    assert "queued to be sent again" in admin.get("/webhooks/").content.decode()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.TECHNICIAN, Role.AUDITOR])
def test_other_roles_do_not_get_the_page(tenant_a, role):
    assert tenant_a.client_for(role).get("/webhooks/").status_code == 403


def test_an_org_admin_allows_and_withdraws_an_api_client(tenant_a):
    client = tenant_a.api_clients[ApiClient.Access.READ_ONLY]
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    api = tenant_a.api(ApiClient.Access.READ_ONLY)
    assert api.get("/api/v1/webhooks/").status_code == 403
    admin.post(f"/webhooks/api-clients/{client.pk}/grant/", {"grant": "on"})
    assert api.get("/api/v1/webhooks/").status_code == 200
    admin.post(f"/webhooks/api-clients/{client.pk}/grant/", {})
    assert api.get("/api/v1/webhooks/").status_code == 403


def test_the_sweep_publishes_attempts_no_message_waits_for(tenant_a):
    _endpoint, waiting = _endpoint_with_a_failed_delivery(tenant_a)
    _endpoint, abandoned = _endpoint_with_a_failed_delivery(tenant_a)
    _endpoint, running = _endpoint_with_a_failed_delivery(tenant_a)
    now = timezone.now()
    with scopes_disabled():
        long_ago = now - timedelta(minutes=10)
        WebhookDelivery.objects.filter(pk=waiting.pk).update(status="retrying", attempts=2, next_attempt_at=long_ago)
        WebhookDelivery.objects.filter(pk=abandoned.pk).update(
            status="pending", attempts=1, next_attempt_at=long_ago, in_flight_since=long_ago
        )
        WebhookDelivery.objects.filter(pk=running.pk).update(
            status="pending", attempts=1, next_attempt_at=long_ago, in_flight_since=now
        )
        due = attempts.due_for_publishing(now)
    # The next attempt of a retry; the abandoned attempt again (claim takes it over); nothing for one in flight.
    assert sorted(due) == sorted([(str(waiting.pk), 3), (str(abandoned.pk), 1)])


def test_an_org_admin_adds_rotates_disables_and_deletes_an_endpoint(tenant_a):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    refused = admin.post("/webhooks/", {"url": "ftp://partner.example.org/x", "events": ["patient.created"]})
    assert refused.status_code == 400 and "https://" in refused.content.decode()
    added = admin.post("/webhooks/", {"url": "http://127.0.0.1:9/inbox", "events": ["patient.created"]})
    assert added.status_code == 200 and added["Cache-Control"] == "no-store"
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get(organization=tenant_a.organization)
    assert endpoint.secret in added.content.decode()
    assert endpoint.secret not in admin.get("/webhooks/").content.decode()  # shown once
    rotated = admin.post(f"/webhooks/{endpoint.pk}/rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode() and endpoint.previous_secret
    admin.post(f"/webhooks/{endpoint.pk}/toggle/")
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    asked = admin.post(f"/webhooks/{endpoint.pk}/delete/")  # a first POST only asks
    assert asked.status_code == 200 and "Delete endpoint" in asked.content.decode()
    with scopes_disabled():
        assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    admin.post(f"/webhooks/{endpoint.pk}/delete/", {"confirm": "yes"})
    with scopes_disabled():
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
