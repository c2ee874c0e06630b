"""Unusual bulk access: more than AUDIT_BULK_READ_THRESHOLD distinct patients read by one user or API key
within an hour writes an audit event and emails the organization's admins, without patient data."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.roles import Role
from assessments.tests.portal import make_patient
from audit import bulk_access, jobs
from audit.models import AuditEvent, RecentPatientRead

THRESHOLD = 3


@pytest.fixture(autouse=True)
def small_threshold(settings):
    settings.AUDIT_BULK_READ_THRESHOLD = THRESHOLD


@pytest.fixture
def patients(tenant_a):
    return [make_patient(tenant_a, f"BULK-{n}", given_name="Zebulon", family_name=f"Quartermain{n}") for n in range(5)]


def seal(django_capture_on_commit_callbacks):
    """Seal as beat does; the alert email goes out when the monitor's transaction commits."""
    with django_capture_on_commit_callbacks(execute=True):
        jobs.seal_and_checkpoint(wait=True)


def alerts(organization):
    return list(AuditEvent.objects.filter(organization=organization, action="audit.bulk_access_detected"))


def test_an_api_key_listing_more_patients_than_the_threshold_is_reported_once(
    tenant_a, tenant_b, patients, mailoutbox, django_capture_on_commit_callbacks
):
    client = tenant_a.api("read_only")
    assert client.get("/api/v1/patients/").status_code == 200
    seal(django_capture_on_commit_callbacks)

    [alert] = alerts(tenant_a.organization)
    reader = tenant_a.api_clients["read_only"]
    assert (alert.actor_label, alert.target_type, alert.target_id) == (
        "system:audit-monitor", "accounts.apiclient", str(reader.pk)
    )
    assert alert.details == {"distinct_patients": 5, "threshold": THRESHOLD, "window_minutes": 60}
    [mail] = mailoutbox
    assert mail.to == [tenant_a.users[Role.ORG_ADMIN].email]
    assert mail.subject == "[MediLens] Unusual bulk access in Clinic A"
    assert f"api:{reader.name} ({reader.key_prefix}) read the records of 5 different patients" in mail.body
    assert "/audit/?actor=" in mail.body
    message = (mail.subject + mail.body).lower()
    for patient in patients:
        for value in (patient.given_name, patient.family_name, patient.mrn, str(patient.pk)):
            assert value.lower() not in message
    assert not alerts(tenant_b.organization)

    # Reading on within the hour does not alert again.
    client.get("/api/v1/patients/")
    seal(django_capture_on_commit_callbacks)
    assert len(alerts(tenant_a.organization)) == 1 and len(mailoutbox) == 1


def test_distinct_patients_count_across_requests_and_repeats_do_not(
    tenant_a, patients, mailoutbox, django_capture_on_commit_callbacks
):
    client = tenant_a.client_for(Role.CLINICIAN)
    for _ in range(4):
        client.get(f"/patients/{patients[0].pk}/")
    for patient in patients[1:THRESHOLD]:
        client.get(f"/patients/{patient.pk}/")
    seal(django_capture_on_commit_callbacks)
    assert not alerts(tenant_a.organization) and not mailoutbox  # three distinct: not more than the threshold

    client.get(f"/patients/{patients[THRESHOLD].pk}/")
    seal(django_capture_on_commit_callbacks)
    [alert] = alerts(tenant_a.organization)
    assert (alert.target_type, alert.target_id) == ("accounts.user", str(tenant_a.users[Role.CLINICIAN].pk))
    assert alert.details["distinct_patients"] == THRESHOLD + 1
    assert len(mailoutbox) == 1


def test_reads_older_than_the_hour_do_not_count(tenant_a, patients, django_capture_on_commit_callbacks):
    two_hours_ago = timezone.now() - timedelta(hours=2)
    earlier = tenant_a.client_for(Role.CLINICIAN)  # its session expires with the clock turned back
    with mock.patch("audit.services.timezone.now", return_value=two_hours_ago):
        for patient in patients[:3]:
            assert earlier.get(f"/patients/{patient.pk}/").status_code == 200
    client = tenant_a.client_for(Role.CLINICIAN)
    for patient in patients[3:]:
        assert client.get(f"/patients/{patient.pk}/").status_code == 200
    seal(django_capture_on_commit_callbacks)
    assert not alerts(tenant_a.organization)
    assert RecentPatientRead.objects.count() == 2  # the old reads were dropped from the tally


def test_system_and_anonymous_reads_are_not_counted(tenant_a, patients, django_capture_on_commit_callbacks):
    from audit import reads

    for patient in patients:
        reads.record_read(action="patient.viewed", actor="system:export", organization=tenant_a.organization,
                          target=patient, patients=[patient.pk])
    seal(django_capture_on_commit_callbacks)
    assert not alerts(tenant_a.organization)


def test_a_failing_monitor_never_stops_sealing(tenant_a, patients, caplog):
    tenant_a.api("read_only").get("/api/v1/patients/")
    with mock.patch.object(bulk_access, "observe", side_effect=RuntimeError("monitor bug")):
        run, _ = jobs.seal_and_checkpoint(wait=True)
    assert run.sealed > 0
    assert "the bulk-access monitor failed" in caplog.text


def test_the_threshold_can_be_turned_off(tenant_a, patients, settings, django_capture_on_commit_callbacks):
    settings.AUDIT_BULK_READ_THRESHOLD = 0
    tenant_a.api("read_only").get("/api/v1/patients/")
    seal(django_capture_on_commit_callbacks)
    assert not alerts(tenant_a.organization)
