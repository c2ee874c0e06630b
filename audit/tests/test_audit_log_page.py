"""The audit-log page and its CSV export: who may read them, how filters narrow them, and that they show
the active organization's events only."""

import csv
import io
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.test import Client

import audit
from audit.models import AuditEvent
from medilens.testing.factories import MembershipFactory

from .support import seal_now

NO_MATCH = "No events match these filters."


def listed(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return [event.action for event in response.context["page_obj"].object_list]


def exported(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1:]


def record_at(when: datetime, **kwargs) -> AuditEvent:
    with mock.patch("audit.services.timezone.now", return_value=when):
        return audit.record(**kwargs)


@pytest.fixture
def dated_events(tenant_a):
    """Four events of clinic-a across three months, by different actors, one failed."""
    org = tenant_a.organization
    admin, clinician = tenant_a.users["org_admin"], tenant_a.users["clinician"]
    record_at(datetime(2024, 1, 10, 12, tzinfo=UTC), action="membership.added", actor=admin, organization=org)
    record_at(datetime(2024, 2, 15, 0, 0, 1, tzinfo=UTC), action="membership.removed", actor=admin,
              organization=org)
    record_at(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), action="patient.viewed", actor=clinician,
              organization=org)
    record_at(datetime(2024, 3, 5, 9, tzinfo=UTC), action="assessment.failed", actor="system:worker",
              organization=org, outcome=AuditEvent.Outcome.FAILURE)
    return tenant_a


# --- who may see it --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "status"), [("org_admin", 200), ("auditor", 200), ("clinician", 403), ("technician", 403)]
)
@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_only_org_admins_and_auditors_read_the_log(tenant_a, role, status, path):
    response = tenant_a.client_for(role).get(path)
    assert response.status_code == status
    assert AuditEvent.objects.filter(action="audit.exported").count() == (
        1 if path.endswith(".csv") and status == 200 else 0
    )


def test_signed_out_visitors_are_sent_to_sign_in(db):
    for path in ("/audit/", "/audit/export.csv"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


# --- filters ---------------------------------------------------------------------------------------------
ALL = ["assessment.failed", "patient.viewed", "membership.removed", "membership.added"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALL),
        ({"action": "membership"}, ["membership.removed", "membership.added"]),
        ({"action": "membership.added"}, ["membership.added"]),
        ({"action": "added"}, []),  # a prefix, not a substring
        ({"actor": "CLINICIAN@clinic-a"}, ["patient.viewed"]),
        ({"actor": "system:"}, ["assessment.failed"]),
        ({"outcome": "failure"}, ["assessment.failed"]),
        ({"outcome": "success"}, ["patient.viewed", "membership.removed", "membership.added"]),
        ({"date_from": "2024-02-15", "date_to": "2024-02-29"}, ["patient.viewed", "membership.removed"]),
        ({"date_from": "2024-02-16"}, ["assessment.failed", "patient.viewed"]),
        ({"date_to": "2024-02-14"}, ["membership.added"]),
        ({"date_from": "2024-01-10", "date_to": "2024-01-10"}, ["membership.added"]),
        ({"action": "membership", "date_from": "2024-02-01"}, ["membership.removed"]),
        ({"actor": "org_admin@", "outcome": "failure"}, []),
    ],
)
def test_filters_narrow_the_page_and_the_export(dated_events, query, expected):
    client = dated_events.client_for("auditor")
    response = client.get("/audit/", query)
    assert listed(response) == expected
    assert (NO_MATCH in response.content.decode()) == (not expected)
    assert [row[2] for row in exported(client.get("/audit/export.csv", query))] == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2024-03-01", "date_to": "2024-02-01"}, "The end date is before the start date."),
        ({"date_from": "last tuesday"}, "Enter a valid date."),
        ({"outcome": "maybe"}, "Select a valid choice."),
    ],
)
def test_invalid_filters_are_a_400_with_a_message_and_export_nothing(dated_events, query, message):
    client = dated_events.client_for("org_admin")
    response = client.get("/audit/", query)
    assert response.status_code == 400
    assert message in response.content.decode()
    response = client.get("/audit/export.csv", query)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_the_log_is_paginated_newest_first(tenant_a):
    for n in range(1, 56):
        audit.record(action=f"test.event{n}", organization=tenant_a.organization)
    seal_now()  # the page shows each event's place in its chain, which the sealer gives
    client = tenant_a.client_for("auditor")
    first = client.get("/audit/")
    assert [e.chain_sequence for e in first.context["page_obj"].object_list] == list(range(55, 5, -1))
    second = client.get("/audit/", {"page": 2})
    assert [e.chain_sequence for e in second.context["page_obj"].object_list] == [5, 4, 3, 2, 1]


# --- tenants ---------------------------------------------------------------------------------------------
def test_another_organizations_events_never_appear(dated_events, tenant_b):
    b_admin = tenant_b.users["org_admin"]
    b_event = audit.record(action="test.only_in_b", actor=b_admin, organization=tenant_b.organization)
    platform_event = audit.record(action="test.platform_only", actor="system:test")
    client = dated_events.client_for("org_admin")

    response = client.get("/audit/")
    assert listed(response) == ALL
    content = response.content.decode()
    assert "test.only_in_b" not in content and b_admin.email not in content
    assert "test.platform_only" not in content
    assert listed(client.get("/audit/", {"action": "test.only_in_b"})) == []
    assert listed(client.get("/audit/", {"actor": b_admin.email})) == []

    seal_now()  # the export's hash column shows each event's chain value (its seal's MAC)
    rows = exported(client.get("/audit/export.csv"))
    hashes = {row[-1] for row in rows}
    assert hashes == {
        e.hash for e in AuditEvent.objects.filter(organization=dated_events.organization)
        .exclude(action="audit.exported").select_related("seal")
    }
    for other in (b_event, platform_event):
        assert AuditEvent.objects.select_related("seal").get(pk=other.pk).hash not in hashes
    assert not any(b_admin.email in value for row in rows for value in row)


def test_a_member_of_two_organizations_sees_the_active_one_only(dated_events, tenant_b):
    auditor = dated_events.users["auditor"]
    MembershipFactory(organization=tenant_b.organization, user=auditor, role="auditor")
    audit.record(action="test.only_in_b", organization=tenant_b.organization)
    client = dated_events.client_for("auditor")

    assert listed(client.get("/audit/")) == ALL
    assert client.post("/organization/switch/", {"organization": "clinic-b"}).status_code == 302
    assert listed(client.get("/audit/")) == ["test.only_in_b"]
    assert [row[2] for row in exported(client.get("/audit/export.csv"))] == ["test.only_in_b"]
    # The export is recorded in the organization it was taken from.
    export = AuditEvent.objects.get(action="audit.exported")
    assert export.organization_id == tenant_b.organization.pk
