"""The compiled timestamptz loader (medilens/pgtypes/loaders.py) is what connections use, and reads every value
as Django's own loader does."""

import datetime

import pytest
from django.db import DataError, connection, transaction
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.postgres import types
from psycopg.pq import Format

from assessments.models import Patient
from medilens.pgtypes.loaders import compiled_loader, install, loader_for

pytestmark = pytest.mark.django_db
OID = types["timestamptz"].oid
UTC = datetime.UTC

# Text PostgreSQL parses as timestamptz: offsets, fractions of every length, the calendar's edges, a leap day.
LITERALS = [
    "2026-12-07 18:13:14.494428+00",
    "2026-12-07 18:13:14+00",
    "2026-12-07 18:13:14.5+00",
    "2026-12-07 18:13:14.000001+00",
    "2026-03-29 01:30:00+02",
    "2026-11-01 01:30:00-04:30",
    "1970-01-01 00:00:00+00",
    "1899-12-31 23:59:59.999999+00",
    "2024-02-29 12:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def _read(cursor, literals):
    cursor.execute(
        "SELECT value::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(value, n) ORDER BY n", [literals]
    )
    return [row[0] for row in cursor.fetchall()]


def test_connections_read_timestamptz_with_the_compiled_loader():
    assert compiled_loader() is not None, "psycopg[binary] is in requirements.txt: its C loader must be found"
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(OID, Format.TEXT)
    assert getattr(loader, "_medilens_fast", False), loader
    assert loader.timezone is UTC  # Django's per-cursor check compares this to the connection's zone
    assert install() == ["default"]  # installing again changes nothing and names the alias


def test_every_value_equals_what_djangos_own_loader_reads():
    with connection.cursor() as cursor:
        fast = _read(cursor, LITERALS)
    with connection.cursor() as cursor:
        register_tzloader(UTC, cursor.cursor)  # Django's pure-Python loader, for this cursor only
        assert not getattr(cursor.cursor.adapters.get_loader(OID, Format.TEXT), "_medilens_fast", False)
        django = _read(cursor, LITERALS)
    assert fast == django
    assert [value.tzinfo for value in fast] == [UTC] * len(LITERALS)
    assert [value.isoformat() for value in fast] == [value.isoformat() for value in django]
    assert fast[0] == datetime.datetime(2026, 12, 7, 18, 13, 14, 494428, tzinfo=UTC)
    assert fast[4] == datetime.datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert fast[5] == datetime.datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def test_a_model_reads_the_timestamps_it_saved(tenant_a):
    from accounts.tenancy import organization_scope
    from assessments import services

    organization = tenant_a.organization
    with organization_scope(organization):
        patient = services.create_patient(
            actor="system:test", organization=organization, consent=True, mrn="T-1", given_name="Ada",
            family_name="Quist", date_of_birth=datetime.date(1960, 1, 1), sex_at_birth="female",
        )  # fmt: skip
        stamp = datetime.datetime(2026, 12, 7, 18, 13, 14, 494428, tzinfo=UTC)
        Patient.objects.filter(pk=patient.pk).update(last_activity_at=stamp)
        read = Patient.objects.get(pk=patient.pk)
    assert read.last_activity_at == stamp and read.last_activity_at.tzinfo is UTC
    assert read.created_at == patient.created_at


def test_a_session_in_another_zone_still_reads_the_right_instant():
    # Django keeps its sessions in UTC; were one not, the compiled loader's value is converted, not relabelled.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'America/New_York'")
        value = _read(cursor, ["2026-07-01 12:00:00+00"])[0]
    assert value == datetime.datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert value.tzinfo is UTC


def test_a_timestamp_python_cannot_hold_fails_as_djangos_loader_fails():
    for register in (lambda cursor: None, lambda cursor: register_tzloader(UTC, cursor.cursor)):
        with transaction.atomic(), connection.cursor() as cursor:
            register(cursor)
            with pytest.raises(DataError):
                _read(cursor, ["infinity"])


def test_naive_values_when_time_zones_are_off():
    loader = loader_for(None, compiled_loader())
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader(OID, loader)
        value = _read(cursor, ["2026-12-07 18:13:14.5+00"])[0]
    assert value == datetime.datetime(2026, 12, 7, 18, 13, 14, 500000) and value.tzinfo is None
