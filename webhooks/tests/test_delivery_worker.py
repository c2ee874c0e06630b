"""Deliveries through a real Celery worker to real HTTP receivers on loopback.

The worker runs this module's own queue with short retry delays (the production schedule is the same code
with a 30 s base); the assessment completes through the status service, which emits the event on commit.
"""

import json
import threading
import time
import uuid

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from standardwebhooks import Webhook

from accounts.roles import Role
from accounts.tenancy import organization_scope
from accounts.tests.tenant_routes import make_assessment, make_patient
from assessments import services as assessment_services
from assessments.models import Assessment
from medilens.testing.fixtures import build_tenant
from medilens.testing.worker import CeleryWorkerProcess, worker_env
from webhooks import services
from webhooks.models import WebhookDelivery

from .receiver import Receiver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RETRY_ENV = {
    # At least 1 s between attempts (base 2 s, jitter halves it at most): each attempt's webhook-timestamp,
    # in whole seconds, differs from the one before.
    "WEBHOOK_RETRY_BASE_SECONDS": "2",
    "WEBHOOK_RETRY_MAX_SECONDS": "4",
    "WEBHOOK_RETRY_WINDOW_SECONDS": "120",
}


def _env(queue: str, **extra) -> dict:
    return worker_env(
        database_name=connection.settings_dict["NAME"],
        storage_options=None,
        extra={"WEBHOOK_QUEUE": queue, **RETRY_ENV, **extra},
    )


@pytest.fixture(scope="module")
def webhook_queue():
    return f"webhooks-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, django_db_blocker, webhook_queue, tmp_path_factory):
    worker = CeleryWorkerProcess(
        _env(webhook_queue), tmp_path_factory.mktemp("webhook-worker") / "worker.log", queues=webhook_queue,
        name="webhooks",
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def _publish_to_the_test_queue(settings, webhook_queue):
    settings.WEBHOOK_QUEUE = webhook_queue


def _endpoint(tenant, url, events=("assessment.completed",)):
    with organization_scope(tenant.organization):
        return services.create_endpoint(
            actor=tenant.users[Role.ORG_ADMIN], organization=tenant.organization, url=url, events=list(events)
        )


def wait_for_delivery(endpoint, statuses, timeout=30) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with scopes_disabled():
            delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
        if delivery is not None and delivery.status in statuses:
            return delivery
        time.sleep(0.05)
    raise AssertionError(f"no delivery of {endpoint.pk} reached {statuses}: {delivery and delivery.status}")


def test_a_completed_assessment_is_delivered_signed_retried_with_one_id_and_never_to_another_organization(
    webhook_worker,
):
    tenant_a, tenant_b = build_tenant("hooks-a"), build_tenant("hooks-b")
    with Receiver([500, 500], then=200) as receiver_a, Receiver() as receiver_b:
        endpoint_a, secret_a = _endpoint(tenant_a, receiver_a.url)
        endpoint_b, _ = _endpoint(tenant_b, receiver_b.url, events=["assessment.completed", "patient.created"])
        assessment = make_assessment(tenant_a, status=Assessment.Status.COMPLETED)

        received = receiver_a.wait_for(3, timeout=40)
        delivery = wait_for_delivery(endpoint_a, {"succeeded", "failed"})

        assert delivery.status == "succeeded", webhook_worker.log_tail()
        assert (delivery.attempts, delivery.last_response_code) == (3, 200)
        # One event, three attempts: the same webhook-id each time, each with its own timestamp and signature.
        assert {r.headers["webhook-id"] for r in received} == {delivery.message_id}
        timestamps = [int(r.headers["webhook-timestamp"]) for r in received]
        assert timestamps == sorted(timestamps) and len(set(timestamps)) == 3
        for request in received:
            payload = Webhook(secret_a).verify(request.body, request.headers)
            assert payload["type"] == "assessment.completed"
            assert payload["data"]["id"] == str(assessment.pk)
            assert payload["data"]["status"] == "completed"
        assert set(payload) == {"type", "timestamp", "data"}
        with pytest.raises(Exception, match="signature"):
            Webhook("whsec_" + "A" * 43 + "=").verify(received[-1].body, received[-1].headers)
        # The other organization's endpoint (subscribed to the same event) was never sent anything.
        assert receiver_b.received == []
        with scopes_disabled():
            assert not WebhookDelivery.objects.filter(endpoint=endpoint_b).exists()
        assert len(receiver_a.received) == 3


def test_a_redirect_is_not_followed(webhook_worker):
    tenant = build_tenant("hooks-redirect")
    with Receiver() as target, Receiver([302], redirect_to="") as redirecting:
        redirecting.redirect_to = target.url
        endpoint, _ = _endpoint(tenant, redirecting.url)
        make_assessment(tenant, status=Assessment.Status.COMPLETED)
        delivery = wait_for_delivery(endpoint, {"succeeded", "failed"})
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("failed", 1, 302)
    assert len(redirecting.received) == 1
    assert target.received == []


def test_patient_and_sign_off_events_reach_the_endpoints_that_asked_for_them(webhook_worker):
    tenant = build_tenant("hooks-events")
    with Receiver() as receiver:
        endpoint, secret = _endpoint(tenant, receiver.url, events=["patient.created", "assessment.signed_off"])
        patient = make_patient(tenant)
        assessment = make_assessment(tenant, patient, status=Assessment.Status.COMPLETED)
        with organization_scope(tenant.organization):
            assessment_services.sign_off(actor=tenant.users[Role.CLINICIAN], assessment=assessment, note="Seen.")
        received = receiver.wait_for(2, timeout=30)
    types = sorted(json.loads(r.body)["type"] for r in received)
    assert types == ["assessment.signed_off", "patient.created"]
    with scopes_disabled():  # assessment.completed happened too, but this endpoint did not ask for it
        assert sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_type", flat=True)) == types
    for request in received:
        data = Webhook(secret).verify(request.body, request.headers)["data"]
        assert data["id"] in {str(patient.pk), str(assessment.pk)}


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(tmp_path, settings):
    queue = f"webhooks-kill-{uuid.uuid4().hex[:8]}"
    settings.WEBHOOK_QUEUE = queue
    env = _env(
        queue,
        CELERY_VISIBILITY_TIMEOUT="5", CELERY_UNACKED_RESTORE_INTERVAL="1", CELERY_UNACKED_RESTORE_THROTTLE="1",
        # An attempt cannot outlive 1 + 8 + 2 s (delivery.lease): the redelivered message takes it over then.
        # 8 s: the held attempt must still be waiting for its answer when the worker is killed, on a busy machine.
        WEBHOOK_CONNECT_TIMEOUT="1", WEBHOOK_TOTAL_TIMEOUT="8",
    )
    tenant = build_tenant("hooks-kill")
    hold = threading.Event()
    first = CeleryWorkerProcess(env, tmp_path / "first.log", queues=queue, name="first").start()
    try:
        with Receiver(hold=hold) as receiver:
            endpoint, secret = _endpoint(tenant, receiver.url)
            make_assessment(tenant, status=Assessment.Status.COMPLETED)
            receiver.wait_for(1, timeout=30)  # the first attempt is in flight, held by the receiver
            first.kill()
            hold.set()
            with scopes_disabled():
                delivery = WebhookDelivery.objects.get(endpoint=endpoint)
            assert (delivery.status, delivery.attempts) == ("pending", 1)
            assert delivery.in_flight_since is not None
            second = CeleryWorkerProcess(env, tmp_path / "second.log", queues=queue, name="second").start()
            try:
                done = wait_for_delivery(endpoint, {"succeeded", "failed"}, timeout=60)
            finally:
                second.stop()
            received = receiver.received
    finally:
        first.stop()
    assert done.status == "succeeded"
    assert done.attempts == 2
    assert len(received) == 2
    assert {r.headers["webhook-id"] for r in received} == {done.message_id}
    Webhook(secret).verify(received[-1].body, received[-1].headers)
