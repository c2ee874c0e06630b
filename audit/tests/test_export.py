"""The audit log's CSV export streams: rows go from the database cursor to the response a chunk at a
time, so a long log never sits in memory whole; the export's own event counts exactly the rows in the
file; and the details column is JSON a script can read back."""

import csv
import io
import json
import secrets
import tracemalloc

import pytest
from django.utils import timezone

import audit
from audit.models import AuditEvent
from audit.selectors import organization_events

EXPORT = "/audit/export.csv"


def _rows(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(lines).decode())))


def _bulk_events(organization, count: int) -> None:
    """``count`` events appended in one insert (record() one by one would take minutes). They stay unsealed:
    the export reads rows and does not verify the chain."""
    last = AuditEvent.objects.filter(organization=organization).order_by("-sequence").first()
    start = last.sequence + 1 if last else 1
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=now, organization=organization, sequence=start + number,
            actor_type=AuditEvent.ActorType.SYSTEM, actor_label="system:load", action="patient.viewed",
            target_type="assessments.patient", target_id=str(number), request_id=secrets.token_hex(16),
            user_agent="x" * 200, details={"fields": ["given_name", "family_name"], "number": number},
        )
        for number in range(count)
    )


def _peak_bytes(work) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_details_are_json_not_a_python_repr(tenant_a):
    details = {"fields": ["data_retention_days"], "rows": 3, "consent": True, "note": None, "who": "Zoë"}
    audit.record(action="organization.settings_changed", organization=tenant_a.organization, details=details)
    response = tenant_a.client_for("auditor").get(EXPORT)
    header, *rows = _rows(response.streaming_content)
    [row] = [row for row in rows if row[header.index("action")] == "organization.settings_changed"]
    assert json.loads(row[header.index("details")]) == details


def test_the_export_event_counts_the_rows_of_the_file_and_later_events_stay_out(tenant_a):
    for number in range(3):
        audit.record(action="patient.viewed", organization=tenant_a.organization, details={"n": number})
    response = tenant_a.client_for("auditor").get(EXPORT)
    lines = iter(response.streaming_content)
    first = next(lines)
    # Written while the file streams: not in it (neither is the export's own event).
    audit.record(action="patient.created", organization=tenant_a.organization)
    rows = _rows([first, *lines])[1:]
    assert [row[2] for row in rows].count("patient.viewed") == 3
    assert "patient.created" not in {row[2] for row in rows}
    assert "audit.exported" not in {row[2] for row in rows}
    event = AuditEvent.objects.get(action="audit.exported", organization=tenant_a.organization)
    assert event.details["rows"] == len(rows)


@pytest.mark.django_db(transaction=True)
def test_a_large_log_streams_without_being_loaded_whole(tenant_a):
    """Peak memory of the whole export (the view and every line of the response) against that of
    holding the same log in a list: streaming keeps one chunk of rows at a time."""
    _bulk_events(tenant_a.organization, 6000)
    client = tenant_a.client_for("auditor")
    # Code loaded by the first request (views, templates, the CSV module) is not the export's memory.
    b"".join(client.get(EXPORT, {"action": "nothing.matches"}).streaming_content)

    lines = []

    def export():
        response = client.get(EXPORT)
        assert response.streaming
        for line in response.streaming_content:
            lines.append(len(line))

    def whole_log():
        assert len(list(organization_events(tenant_a.organization))) >= 6000

    streamed, whole = _peak_bytes(export), _peak_bytes(whole_log)
    assert len(lines) >= 6001
    assert streamed < whole / 3, f"export peaked at {streamed} bytes; the whole log in memory is {whole} bytes"
