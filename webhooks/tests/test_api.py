"""/api/v1/webhooks/: who may manage endpoints, what a bad URL gets, secrets, rotation, deliveries, resend,
audit, and the OpenAPI description."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from standardwebhooks import Webhook

from accounts.models import ApiClient
from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_patient
from audit.models import AuditEvent
from webhooks import signing
from webhooks.events import new_message_id
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"  # loopback is allowed in tests (WEBHOOK_ALLOWED_NETWORKS); never contacted
NEW = {"url": URL, "events": ["assessment.completed", "patient.created"], "description": "EHR inbox"}
# For tests that make their own delivery rows: an endpoint that the patient those rows name did not notify.
QUIET = {**NEW, "events": ["assessment.completed"]}


def granted(tenant, access=ApiClient.Access.CLINICIAN):
    with organization_scope(tenant.organization):
        from accounts import services as account_services

        account_services.set_api_client_webhook_grant(
            acting_user=tenant.users[Role.ORG_ADMIN], organization=tenant.organization,
            client=tenant.api_clients[access], granted=True,
        )
    return tenant.api(access)


def endpoints(tenant):
    with scopes_disabled():
        return list(WebhookEndpoint.objects.filter(organization=tenant.organization))


def events(action):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action))


def test_a_granted_key_creates_an_endpoint_and_sees_its_secret_once(tenant_a):
    api = granted(tenant_a)
    response = api.post("/api/v1/webhooks/", NEW, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == NEW["events"] and body["enabled"] is True and body["health"] == "healthy"
    again = api.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in again and body["secret"] not in str(api.get("/api/v1/webhooks/").content)
    (created,) = events("webhook.created")
    assert created.target_id == body["id"] and body["secret"] not in str(created.details)
    # Stored sealed: the column holds no plaintext secret.
    with scopes_disabled():
        raw = WebhookEndpoint.objects.filter(pk=body["id"]).values_list("secret", flat=True).get()
    assert body["secret"] not in raw


@pytest.mark.parametrize("access", [ApiClient.Access.CLINICIAN, ApiClient.Access.READ_ONLY])
def test_a_key_without_the_grant_may_not_manage_endpoints(tenant_a, access):
    response = tenant_a.api(access).post("/api/v1/webhooks/", NEW, format="json")
    assert response.status_code == 403
    assert tenant_a.api(access).get("/api/v1/webhooks/").status_code == 403
    assert endpoints(tenant_a) == []


def test_a_withdrawn_grant_is_refused_at_once(tenant_a):
    api = granted(tenant_a)
    assert api.get("/api/v1/webhooks/").status_code == 200
    from accounts import services as account_services

    account_services.set_api_client_webhook_grant(
        acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization,
        client=tenant_a.api_clients[ApiClient.Access.CLINICIAN], granted=False,
    )
    assert api.get("/api/v1/webhooks/").status_code == 403
    assert [e.action for e in events("api_client.webhooks_withdrawn")] == ["api_client.webhooks_withdrawn"]


BAD_URLS = [
    ("not a url", "https://"),
    ("ftp://files.example.org/hook", "https://"),
    ("http://", "no host"),
    ("https://user:secret@partner.example.org/hook", "user name or password"),
    ("https://10.1.2.3/hook", "private address"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[::1]/hook", "loopback"),
    ("https://partner.invalid/hook", "does not resolve"),
]


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
def test_a_bad_url_is_a_400_with_the_reason_and_nothing_is_stored(tenant_a, settings, url, reason):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    response = granted(tenant_a).post("/api/v1/webhooks/", {**NEW, "url": url}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert reason in " ".join(error["fields"]["url"])
    assert endpoints(tenant_a) == []


def test_loopback_is_refused_without_the_setting_and_accepted_with_it(tenant_a, settings):
    api = granted(tenant_a)
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    refused = api.post("/api/v1/webhooks/", NEW, format="json")
    assert refused.status_code == 400 and "loopback" in str(refused.json()["error"]["fields"]["url"])
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the embedded demo
    assert api.post("/api/v1/webhooks/", NEW, format="json").status_code == 201


def test_http_is_refused_where_https_is_required(tenant_a, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = granted(tenant_a).post("/api/v1/webhooks/", NEW, format="json")
    assert response.status_code == 400
    assert "must use https" in str(response.json()["error"]["fields"]["url"])


@pytest.mark.parametrize("events_value", [[], ["assessment.deleted"], "assessment.completed"])
def test_bad_events_are_a_400(tenant_a, events_value):
    response = granted(tenant_a).post("/api/v1/webhooks/", {**NEW, "events": events_value}, format="json")
    assert response.status_code == 400 and "events" in response.json()["error"]["fields"]
    assert endpoints(tenant_a) == []


def test_update_is_checked_and_audited_with_field_names(tenant_a, settings):
    api = granted(tenant_a)
    pk = api.post("/api/v1/webhooks/", NEW, format="json").json()["id"]
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    refused = api.patch(f"/api/v1/webhooks/{pk}/", {"url": "http://127.0.0.2/x"}, format="json")
    assert refused.status_code == 400
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    changed = api.patch(f"/api/v1/webhooks/{pk}/", {"enabled": False, "events": ["patient.updated"]}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    (updated,) = events("webhook.updated")
    assert updated.details == {"fields": ["enabled", "events"]}
    assert endpoints(tenant_a)[0].url == URL


def test_rotation_returns_a_new_secret_and_both_sign_for_a_day(tenant_a):
    api = granted(tenant_a)
    created = api.post("/api/v1/webhooks/", NEW, format="json").json()
    rotated = api.post(f"/api/v1/webhooks/{created['id']}/rotate/")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != created["secret"] and new_secret.startswith("whsec_")
    (event,) = events("webhook.secret_rotated")
    assert created["secret"] not in str(event.details) and new_secret not in str(event.details)
    endpoint = endpoints(tenant_a)[0]
    now = timezone.now()
    body = b'{"type":"patient.created"}'
    headers = signing.headers(message_id="msg_1", secrets=endpoint.signing_secrets(now), body=body, at=now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], new_secret):  # a receiver on either secret verifies the delivery
        Webhook(secret).verify(body, headers)
    later = now + timedelta(hours=24, seconds=1)
    assert endpoint.signing_secrets(later) == [new_secret]


def _delivery(tenant, endpoint_pk, status=WebhookDelivery.Status.FAILED):
    patient = make_patient(tenant)
    with scopes_disabled():
        return WebhookDelivery.objects.create(
            organization=tenant.organization, endpoint_id=endpoint_pk, message_id=new_message_id(),
            event_type="patient.created", event_at=timezone.now(), object_type="patient", object_id=patient.pk,
            status=status, attempts=3, last_response_code=500,
        )


def test_deliveries_are_listed_without_any_body_and_resent_by_hand(tenant_a, django_capture_on_commit_callbacks):
    api = granted(tenant_a)
    pk = api.post("/api/v1/webhooks/", QUIET, format="json").json()["id"]
    delivery = _delivery(tenant_a, pk)
    listed = api.get(f"/api/v1/webhooks/{pk}/deliveries/").json()["results"]
    assert [d["webhook_id"] for d in listed] == [delivery.message_id]
    assert {"status", "attempts", "last_response_code", "last_attempt_at"} <= set(listed[0])
    assert not {"body", "data", "payload", "response_body"} & set(listed[0])
    with django_capture_on_commit_callbacks() as callbacks:
        resent = api.post(f"/api/v1/webhooks/{pk}/deliveries/{delivery.pk}/resend/")
    assert resent.status_code == 202 and resent.json()["status"] == "pending" and resent.json()["manual"] is True
    assert len(callbacks) == 1  # its attempt is published on commit
    assert [e.target_id for e in events("webhook.delivery_resent")] == [str(delivery.pk)]
    again = api.post(f"/api/v1/webhooks/{pk}/deliveries/{delivery.pk}/resend/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "delivery_in_progress"


def test_delete_removes_the_endpoint_and_its_deliveries_and_is_audited(tenant_a):
    api = granted(tenant_a)
    pk = api.post("/api/v1/webhooks/", QUIET, format="json").json()["id"]
    _delivery(tenant_a, pk)
    assert api.delete(f"/api/v1/webhooks/{pk}/").status_code == 204
    assert endpoints(tenant_a) == []
    with scopes_disabled():
        assert not WebhookDelivery.objects.filter(endpoint_id=pk).exists()
    assert events("webhook.deleted")[0].details == {"deliveries": 1}
    assert api.get(f"/api/v1/webhooks/{pk}/").status_code == 404


def test_another_organizations_endpoints_are_404_and_never_listed(tenant_a, tenant_b):
    theirs = granted(tenant_b).post("/api/v1/webhooks/", QUIET, format="json").json()["id"]
    delivery = _delivery(tenant_b, theirs)
    api = granted(tenant_a)
    assert api.get("/api/v1/webhooks/").json()["results"] == []
    for method, path in [
        ("get", f"/api/v1/webhooks/{theirs}/"),
        ("patch", f"/api/v1/webhooks/{theirs}/"),
        ("delete", f"/api/v1/webhooks/{theirs}/"),
        ("post", f"/api/v1/webhooks/{theirs}/rotate/"),
        ("get", f"/api/v1/webhooks/{theirs}/deliveries/"),
        ("post", f"/api/v1/webhooks/{theirs}/deliveries/{delivery.pk}/resend/"),
    ]:
        assert getattr(api, method)(path, {"enabled": False}, format="json").status_code == 404, (method, path)
    # A's own endpoint with B's delivery id: 404 too.
    ours = api.post("/api/v1/webhooks/", QUIET, format="json").json()["id"]
    assert api.post(f"/api/v1/webhooks/{ours}/deliveries/{delivery.pk}/resend/").status_code == 404
    with scopes_disabled():
        assert WebhookEndpoint.objects.get(pk=theirs).enabled is True
        assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"


def test_the_schema_documents_the_webhook_operations_and_their_errors(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/webhooks/"]) >= {"get", "post"}
    assert set(paths["/api/v1/webhooks/"]["post"]["responses"]) >= {"201", "400", "401", "403"}
    detail = paths["/api/v1/webhooks/{id}/"]
    assert set(detail) >= {"get", "put", "patch", "delete"}
    assert "404" in detail["delete"]["responses"] and "204" in detail["delete"]["responses"]
    resend = paths["/api/v1/webhooks/{id}/deliveries/{delivery_pk}/resend/"]["post"]["responses"]
    assert set(resend) >= {"202", "404", "409"}


def test_a_create_retried_with_its_idempotency_key_makes_one_endpoint_and_never_repeats_the_secret(tenant_a):
    api = granted(tenant_a)
    first = api.post("/api/v1/webhooks/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = api.post("/api/v1/webhooks/", NEW, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and "secret" not in again.json()
    assert len(endpoints(tenant_a)) == 1
