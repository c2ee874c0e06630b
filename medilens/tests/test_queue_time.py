"""A request that waited in the queue past REQUEST_QUEUE_TIMEOUT_SECONDS (the proxy's X-Request-Start) is a 503
with Retry-After at once; a fresh one, one without the stamp, a malformed stamp, or the check off, is served."""

import time

import pytest

from medilens.queue_time import waited_seconds


@pytest.fixture
def limit(settings):
    settings.REQUEST_QUEUE_TIMEOUT_SECONDS = 10
    return settings


def test_a_request_that_waited_too_long_is_a_503_with_retry_after(client, db, limit):
    stamp = f"t={time.time() - 30:.3f}"  # nginx's ${msec}: seconds with milliseconds

    api = client.get("/api/v1/assessments/", headers={"X-Request-Start": stamp})
    page = client.get("/patients/", headers={"X-Request-Start": stamp})

    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert api.json()["error"]["code"] == "service_unavailable"
    assert api["X-Request-ID"]
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert "MediLens is busy" in page.content.decode()


STAMPS = {
    "seconds": lambda: f"t={time.time():.3f}",
    "milliseconds": lambda: f"{int(time.time() * 1000)}",
    "microseconds": lambda: f"t={int(time.time() * 1e6)}",
    "none": lambda: "",
    "malformed": lambda: "t=yesterday",
}


@pytest.mark.parametrize("kind", sorted(STAMPS))
def test_a_fresh_or_unstamped_request_is_served(client, db, limit, kind):
    header = STAMPS[kind]()  # made now, not at collection: a slow start must not age it
    headers = {"X-Request-Start": header} if header else {}
    assert client.get("/healthz", headers=headers).status_code == 200


def test_the_check_is_off_by_default(client, db, settings):
    settings.REQUEST_QUEUE_TIMEOUT_SECONDS = 0
    assert client.get("/healthz", headers={"X-Request-Start": f"t={time.time() - 600:.3f}"}).status_code == 200


def test_stamps_in_seconds_milliseconds_and_microseconds_are_read():
    now = 1_800_000_000.0
    assert waited_seconds("t=1799999970.500", now) == pytest.approx(29.5)
    assert waited_seconds("1799999970500", now) == pytest.approx(29.5)
    assert waited_seconds("t=1799999970500000", now) == pytest.approx(29.5)
    assert waited_seconds("t=12", now) is None
