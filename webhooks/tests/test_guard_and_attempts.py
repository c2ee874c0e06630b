"""The SSRF guard at delivery time, and what an attempt's outcome leads to (retry, failing endpoint, email),
against real HTTP receivers on loopback, in-process (the worker runs the same ``delivery.attempt``)."""

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_patient
from webhooks import delivery as attempts
from webhooks import guard, services
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.8", "private"),
        ("192.168.1.20", "private"),
        ("172.16.5.4", "private"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("100.64.0.1", "not a public address"),
        ("0.0.0.0", "private"),  # noqa: S104 - an address under test, not a bind
    ],
)
def test_inner_addresses_are_refused(settings, address, reason):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert reason in guard.address_refusal(address)


def test_public_addresses_pass_and_metadata_stays_refused_where_private_networks_are_allowed(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert guard.address_refusal("93.184.216.34") is None
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert guard.address_refusal("10.0.0.8") is None
    assert "metadata" in guard.address_refusal("169.254.169.254")


def test_resolve_connects_to_the_checked_address_and_keeps_the_name_for_the_host_header(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    target = guard.resolve("http://localhost:8123/in?x=1")
    assert (target.host, target.port, target.path) == ("localhost", 8123, "/in?x=1")
    assert target.address == "127.0.0.1"


def _delivery_to(tenant, url):
    with organization_scope(tenant.organization):
        endpoint, secret = services.create_endpoint(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, url=url,
            events=["patient.created"],
        )
    make_patient(tenant)  # emits patient.created: one delivery row (its task is published only on commit)
    with scopes_disabled():
        return WebhookDelivery.objects.get(endpoint=endpoint)


def _attempt(tenant, delivery, number):
    with organization_scope(tenant.organization):
        outcome = attempts.attempt(delivery.pk, number)
    with scopes_disabled():
        return outcome, WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)


def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_the_setting(tenant_a, settings):
    with Receiver() as receiver:
        delivery = _delivery_to(tenant_a, receiver.url.replace("127.0.0.1", "localhost"))
        settings.WEBHOOK_ALLOWED_NETWORKS = []  # as in production: the address is checked again at delivery
        (what, delay), row = _attempt(tenant_a, delivery, 1)
        assert what == "retrying" and delay > 0
        assert "loopback" in row.last_error and row.last_response_code is None
        assert receiver.received == []
        settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        (what, _), row = _attempt(tenant_a, delivery, 2)
    assert what == "succeeded" and len(receiver.received) == 1
    assert receiver.received[0].headers["Host"].startswith("localhost:")


def test_a_stale_message_for_an_attempt_already_made_sends_nothing(tenant_a):
    with Receiver() as receiver:
        delivery = _delivery_to(tenant_a, receiver.url)
        assert _attempt(tenant_a, delivery, 1)[0][0] == "succeeded"
        assert _attempt(tenant_a, delivery, 1)[0][0] == "stale"
    assert len(receiver.received) == 1


def test_retries_end_with_the_window_the_endpoint_is_failing_and_its_admins_are_told(tenant_a, settings):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 0  # the 24 hours have passed at the first failure
    with Receiver([503]) as receiver:
        delivery = _delivery_to(tenant_a, receiver.url)
        with pytest.MonkeyPatch.context() as patch:
            # notify runs on commit; this test's transaction never commits, so run it at once.
            patch.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
            (what, delay), row = _attempt(tenant_a, delivery, 1)
    assert (what, delay) == ("failed", None)
    assert (row.status, row.last_response_code) == ("failed", 503)
    assert row.endpoint.health == WebhookEndpoint.Health.FAILING and row.endpoint.failing_since
    (message,) = mail.outbox
    assert message.to == [tenant_a.users[Role.ORG_ADMIN].email]
    assert "127.0.0.1" in message.body and "Ada" not in message.body and "Example" not in message.body


def test_a_client_error_is_not_retried(tenant_a):
    with Receiver([410]) as receiver:
        delivery = _delivery_to(tenant_a, receiver.url)
        (what, delay), row = _attempt(tenant_a, delivery, 1)
    assert (what, delay, row.status, row.last_response_code) == ("failed", None, "failed", 410)
    assert row.endpoint.health == WebhookEndpoint.Health.HEALTHY  # the partner refused it: not a failing endpoint


def test_backoff_grows_exponentially_with_jitter_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    samples = {n: [attempts.backoff(n) for _ in range(200)] for n in (1, 2, 5, 12)}
    assert all(15 <= s <= 30 for s in samples[1]) and all(30 <= s <= 60 for s in samples[2])
    assert all(240 <= s <= 480 for s in samples[5]) and all(1800 <= s <= 3600 for s in samples[12])
    assert len({round(s, 3) for s in samples[5]}) > 100  # jittered, not one value
