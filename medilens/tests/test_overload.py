"""Overload is a 503 with Retry-After, never a 500: a statement cancelled by PostgreSQL's statement_timeout (a
real slow query against the test database) and an exhausted connection pool; any other error stays a 500."""

import pytest
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from psycopg_pool import PoolTimeout

from medilens.overload import is_overload


def _slow(request):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '50ms'")
        cursor.execute("SELECT pg_sleep(2)")
    return HttpResponse("never")


def _broken(request):
    raise ZeroDivisionError("a bug, not load")


urlpatterns = [
    path("api/v1/slow/", _slow),
    path("patients/slow/", _slow),
    path("patients/broken/", _broken),
]
handler500 = "medilens.views.server_error"


@pytest.fixture
def client_without_raising(settings):
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


@pytest.mark.django_db(transaction=True)
def test_an_api_statement_past_its_timeout_is_a_503_with_retry_after(client_without_raising):
    response = client_without_raising.get("/api/v1/slow/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "nothing was changed" in response.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_a_portal_statement_past_its_timeout_is_the_busy_page(client_without_raising):
    response = client_without_raising.get("/patients/slow/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "MediLens is busy" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_any_other_error_stays_a_500(client_without_raising):
    response = client_without_raising.get("/patients/broken/")

    assert response.status_code == 500
    assert "Retry-After" not in response


def test_an_exhausted_pool_is_overload_and_other_database_errors_are_not():
    def wrapped(cause):
        try:
            raise OperationalError(str(cause)) from cause
        except OperationalError as error:
            return error

    assert is_overload(wrapped(PoolTimeout("couldn't get a connection after 10.00 sec")))
    assert not is_overload(wrapped(ConnectionRefusedError("no server")))
    assert not is_overload(ZeroDivisionError())
    assert not is_overload(None)
