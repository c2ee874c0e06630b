"""API keys: how they are issued, checked, revoked, recorded and rate-limited."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from accounts.api_auth import ApiKeyThrottle
from accounts.models import ApiClient
from accounts.roles import Role

URL = "/api/v1/organization/"


def _with_header(value: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"status", "code", "message"} <= set(body["error"])
    assert body["error"]["status"] == response.status_code
    return body["error"]


def test_the_organization_endpoint_is_where_the_urlconf_says(tenant_a):
    assert reverse("api:organization") == URL
    response = tenant_a.api("clinician").get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "organization": {"slug": "clinic-a", "name": tenant_a.organization.name},
        "client": {
            "name": "clinic-a clinician",
            "access": "clinician",
            "key_prefix": tenant_a.api_clients["clinician"].key_prefix,
        },
    }


def test_a_revoked_key_is_401(tenant_a):
    from accounts import services

    api = tenant_a.api("clinician")
    assert api.get(URL).status_code == 200
    services.revoke_api_client(
        acting_user=tenant_a.users[Role.ORG_ADMIN],
        organization=tenant_a.organization,
        client=tenant_a.api_clients["clinician"],
    )
    response = api.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = _error(response)
    assert error["code"] == "authentication_failed"
    assert "revoked" in error["message"]


def test_malformed_authorization_headers_are_401(tenant_a):
    key = tenant_a.api_keys["clinician"]
    prefix = tenant_a.api_clients["clinician"].key_prefix
    for header in [
        "Bearer",
        f"Token {key}",
        f"Basic {key}",
        f"Bearer {key} extra",
        "Bearer not-a-key",
        f"Bearer xyz_{prefix}_{key.rsplit('_', 1)[1]}",
        f"Bearer mlk_{prefix}_wrong-secret",
        f"Bearer {key[:-1]}",
        "Bearer mlk_unknownprefix_secret",
    ]:
        response = _with_header(header).get(URL)
        assert response.status_code == 401, header
        assert _error(response)["code"] == "authentication_failed", header
        assert "clinic-a" not in response.content.decode()


def test_no_key_is_401(db):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


def test_last_used_is_recorded_at_most_once_a_minute(tenant_a):
    client_row = tenant_a.api_clients["read_only"]
    api = tenant_a.api("read_only")

    def last_used():
        with scopes_disabled():
            return ApiClient.objects.get(pk=client_row.pk).last_used_at

    assert last_used() is None
    api.get(URL)
    first = last_used()
    assert first is not None and timezone.now() - first < timedelta(seconds=30)
    api.get(URL)
    api.get(URL)
    assert last_used() == first, "a request within the minute wrote last_used_at again"

    earlier = timezone.now() - timedelta(seconds=61)
    with scopes_disabled():
        ApiClient.objects.filter(pk=client_row.pk).update(last_used_at=earlier)
    api.get(URL)
    assert last_used() > earlier + timedelta(seconds=30)


def _forget_throttle_history(*clients):
    # Only this test's keys: cache.clear() would flush the whole Redis database that other test sessions
    # and the Celery broker share.
    throttle = ApiKeyThrottle()
    for client in clients:
        cache.delete(throttle.cache_format % {"scope": throttle.scope, "ident": client.key_prefix})


@override_settings(API_THROTTLE_RATE="3/min")
def test_too_many_requests_get_429_with_retry_after(tenant_a):
    _forget_throttle_history(*tenant_a.api_clients.values())
    api = tenant_a.api("clinician")
    assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(URL)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert _error(response)["code"] == "throttled"
    # The limit is per key: the organization's other key is not slowed down.
    assert tenant_a.api("read_only").get(URL).status_code == 200
    _forget_throttle_history(*tenant_a.api_clients.values())


def test_a_key_is_shown_once_and_only_its_digest_is_stored(tenant_a):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    response = admin.post(reverse("accounts:api_clients"), {"name": "Partner lab", "access": "read_only"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["new_key"]["key"]
    assert key in response.content.decode()
    with scopes_disabled():
        row = ApiClient.objects.get(name="Partner lab")
    assert row.organization == tenant_a.organization
    assert row.key_digest == ApiClient.digest(key) and key not in (row.key_digest, row.key_prefix)
    # The page never shows it again.
    assert key not in admin.get(reverse("accounts:api_clients")).content.decode()
    assert _with_header(f"Bearer {key}").get(URL).json()["client"]["access"] == "read_only"


def test_revoking_in_the_portal_stops_the_key(tenant_a):
    api = tenant_a.api("clinician")
    assert api.get(URL).status_code == 200
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    pk = tenant_a.api_clients["clinician"].pk
    response = admin.post(reverse("accounts:api_client_revoke", kwargs={"pk": pk}), {"confirm": "yes"}, follow=True)
    assert "its key no longer works" in response.content.decode()
    assert api.get(URL).status_code == 401


def test_api_client_form_rejects_bad_input(tenant_a):
    admin = tenant_a.client_for(Role.ORG_ADMIN)
    with scopes_disabled():
        before = ApiClient.objects.count()
    for data, message in [
        ({"name": "", "access": "read_only"}, "This field is required."),
        ({"name": "Partner", "access": "superuser"}, "Select a valid choice."),
    ]:
        response = admin.post(reverse("accounts:api_clients"), data)
        assert response.status_code == 400
        assert message in response.content.decode()
    with scopes_disabled():
        assert ApiClient.objects.count() == before


@override_settings(API_INVALID_KEY_RATE="5/min")
def test_invalid_keys_are_throttled_by_address_before_any_key_is_checked(tenant_a):
    """Issue 10: keys could be guessed at full speed. Five wrong keys a minute from one address, then a
    429 for every key that address sends (a valid one too: answering it would keep the guess useful)."""
    guesser = "198.51.100.23"
    for attempt in range(5):
        # A forged X-Forwarded-For does not make a new address.
        response = _with_header(f"Bearer mlk_guess{attempt}_secret").get(
            URL, REMOTE_ADDR=guesser, HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}"
        )
        assert response.status_code == 401, attempt
    refused = _with_header("Bearer mlk_guess9_secret").get(URL, REMOTE_ADDR=guesser)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert _error(refused)["code"] == "throttled"
    valid = tenant_a.api_keys["clinician"]
    assert _with_header(f"Bearer {valid}").get(URL, REMOTE_ADDR=guesser).status_code == 429
    # Other addresses are not affected, and valid keys never count.
    assert _with_header(f"Bearer {valid}").get(URL, REMOTE_ADDR="198.51.100.24").status_code == 200
    assert _with_header("Bearer mlk_x_y").get(URL, REMOTE_ADDR="198.51.100.24").status_code == 401
    partner = _with_header(f"Bearer {valid}")
    assert {partner.get(URL, REMOTE_ADDR="198.51.100.25").status_code for _ in range(8)} == {200}


@pytest.mark.django_db(transaction=True)
def test_recording_last_use_never_waits_for_another_request_of_the_same_key(tenant_a):
    """Two requests of one key after the minute has passed: the first holds the row until its transaction
    ends; the second, in its own transaction on another connection, must not wait for it (before SKIP LOCKED
    it queued behind the first's whole request: 20 s under load)."""
    import threading

    from django.db import connection, transaction

    from accounts.api_auth import ApiKeyAuthentication

    client_row = tenant_a.api_clients["read_only"]

    def fresh():
        with scopes_disabled():
            return ApiClient.objects.get(pk=client_row.pk)

    outcome = {}

    def second_request():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                started = time.monotonic()
                ApiKeyAuthentication._touch(fresh())
                outcome["seconds"] = time.monotonic() - started
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error
        finally:
            connection.close()

    with transaction.atomic():
        ApiKeyAuthentication._touch(fresh())  # the first request: holds the row until this block ends
        worker = threading.Thread(target=second_request)
        worker.start()
        worker.join(30)
    assert "error" not in outcome, outcome
    assert outcome["seconds"] < 1.5
    assert fresh().last_used_at is not None
