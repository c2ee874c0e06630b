"""Redis stopped while an assessment is submitted through the API, on a Redis of the test's own (never the
machine's): with the broker down the API still answers 201 (the row is the source of truth, queued) and the
reaper publishes it once Redis is back, where a worker completes it; with the cache on the same stopped Redis
the API answers 503 with nothing saved. Never a 500, never a row without a task for good."""

import time

import pytest
from django.test import Client, override_settings

from accounts.tenancy import scopes_disabled
from assessments.models import Assessment
from assessments.tasks import reap_stuck_assessments

from .faults import assert_completed_once, wait_for_status
from .helpers_api import GOFF_WHITE_FEMALE, make_patient
from .portal import row_counts

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The gunicorn timeout (medilens/gunicorn_config.py): an answer must come well within it, never a hang.
REQUEST_TIMEOUT_SECONDS = 30


def _submit(tenant, patient):
    began = time.monotonic()
    response = tenant.api("clinician").post(
        "/api/v1/assessments/",
        {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": GOFF_WHITE_FEMALE},
        format="json",
    )
    assert time.monotonic() - began < REQUEST_TIMEOUT_SECONDS
    return response


def test_with_the_broker_down_the_api_answers_201_and_the_reaper_publishes_once_redis_is_back(
    tenant_a, isolated_redis, isolated_publishing, isolated_workers, settings
):
    patient = make_patient(tenant_a)
    isolated_redis.stop()
    response = _submit(tenant_a, patient)
    assert response.status_code == 201, response.content
    assessment_id = response.json()["id"]
    with scopes_disabled():
        queued = Assessment.objects.get(pk=assessment_id)
    assert (queued.status, queued.last_enqueued_at) == ("queued", None)  # saved, its message never sent
    settings.ASSESSMENT_REPUBLISH_AFTER_SECONDS = 0
    # The reaper, while Redis is still down: it tries, and counts the refusal as such, not as a publish.
    assert reap_stuck_assessments() == {"requeued": 0, "failed": 0, "republished": 0, "unpublished": 1}
    with scopes_disabled():
        assert Assessment.objects.filter(pk=assessment_id, status="queued", last_enqueued_at=None).exists()
    isolated_redis.start()
    isolated_workers.start("after-outage")
    # Beat runs the reaper every 30 s; a queued row older than ASSESSMENT_REPUBLISH_AFTER_SECONDS whose
    # message was never sent is published again.
    assert reap_stuck_assessments()["republished"] == 1
    wait_for_status(assessment_id, {"completed", "failed"}, timeout=60)
    assert_completed_once(assessment_id)
    # Published once it was: the next reaper run leaves it alone.
    assert reap_stuck_assessments()["republished"] == 0


def test_with_the_cache_on_the_stopped_redis_too_the_api_answers_503_with_nothing_saved(
    tenant_a, isolated_redis, isolated_publishing, settings
):
    patient = make_patient(tenant_a)
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": isolated_redis.cache_url,
            "KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        }
    }
    with override_settings(CACHES=caches):
        before = row_counts()
        isolated_redis.stop()
        response = _submit(tenant_a, patient)
        assert response.status_code == 503, response.content
        assert response["Retry-After"]
        assert response.json()["error"]["code"] == "service_unavailable"
        assert row_counts() == before
        isolated_redis.start()
        assert _submit(tenant_a, patient).status_code == 201


def test_signing_in_to_the_portal_while_the_cache_is_down_is_a_503_page_not_a_500(
    tenant_a, isolated_redis, settings, password
):
    """The sign-in limits count in the cache: with its Redis stopped the page says the service is briefly
    unavailable (503, Retry-After); once Redis is back the same sign-in goes through."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": isolated_redis.cache_url,
            "KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        }
    }
    sign_in = {"username": tenant_a.users["clinician"].email, "password": password}
    with override_settings(CACHES=caches):
        isolated_redis.stop()
        # As a real server does: the exception is answered by the 500 handler, not raised into the test.
        response = Client(raise_request_exception=False).post("/accounts/login/", sign_in)
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert "A service MediLens depends on is not answering" in response.content.decode()
        isolated_redis.start()
        assert Client().post("/accounts/login/", sign_in).status_code == 302
