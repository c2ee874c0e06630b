"""Audit events cannot be changed or removed: not through the model, not through a queryset, not with raw
SQL (a PostgreSQL trigger), and admin shows them read-only."""

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

import audit
from audit.models import AppendOnlyError, AuditEvent

from .support import run_verify, seal_now, triggers_dropped


@pytest.fixture
def events(tenant_a):
    admin = tenant_a.users["org_admin"]
    return [
        audit.record(action=f"test.step{n}", actor=admin, organization=tenant_a.organization, details={"n": n})
        for n in range(1, 4)
    ]


def snapshot() -> list[tuple]:
    return list(AuditEvent.objects.order_by("id").values_list())


# --- the model and its queryset ----------------------------------------------------------------------------
def test_saving_an_existing_event_is_refused(events):
    before = snapshot()
    loaded = AuditEvent.objects.get(pk=events[0].pk)
    loaded.action = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        loaded.save()
    with pytest.raises(AppendOnlyError):
        loaded.save(update_fields=["action"])
    # The instance record() returned is just as frozen.
    events[1].outcome = AuditEvent.Outcome.FAILURE
    with pytest.raises(AppendOnlyError):
        events[1].save()
    assert snapshot() == before


def test_deleting_an_event_is_refused(events):
    before = snapshot()
    with pytest.raises(AppendOnlyError):
        events[0].delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.get(pk=events[1].pk).delete()
    assert snapshot() == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: AuditEvent.objects.update(action="x"), id="manager.update"),
        pytest.param(lambda: AuditEvent.objects.filter(action="test.step1").update(action="x"), id="queryset.update"),
        pytest.param(lambda: AuditEvent.objects.all().delete(), id="queryset.delete"),
        pytest.param(lambda: AuditEvent.objects.filter(action="test.step2").delete(), id="filtered.delete"),
        pytest.param(
            lambda: AuditEvent.objects.bulk_update(
                [AuditEvent.objects.get(action="test.step3")], ["action"]
            ),
            id="bulk_update",
        ),
    ],
)
def test_queryset_changes_are_refused(events, change):
    before = snapshot()
    # bulk_update runs inside atomic(savepoint=False); a savepoint keeps the test transaction usable.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        change()
    assert snapshot() == before


# --- the database trigger -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'x'",
        "UPDATE audit_auditevent SET details = '{}'::jsonb WHERE action = 'test.step2'",
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditevent WHERE action = 'test.step3'",
    ],
)
def test_raw_sql_update_and_delete_are_refused_by_postgresql(events, statement):
    assert connection.vendor == "postgresql"
    before = snapshot()
    with pytest.raises(ProgrammingError) as excinfo:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    verb = statement.split()[0]
    assert f"audit_auditevent is append-only: {verb} refused" in str(excinfo.value)
    # insufficient_privilege: the trigger's ERRCODE, so callers can tell it from a bug in their SQL.
    assert excinfo.value.__cause__.sqlstate == "42501"
    assert snapshot() == before
    run_verify()


def test_raw_insert_is_allowed_and_the_trigger_is_back_after_tampering(events):
    """The trigger blocks changes, not appends; and the tests' tampering helper restores it."""
    with triggers_dropped(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'test.tampered' WHERE id = %s", [events[0].pk])
    assert AuditEvent.objects.get(pk=events[0].pk).action == "test.tampered"
    with pytest.raises(ProgrammingError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    assert AuditEvent.objects.filter(pk=events[0].pk).exists()


# --- admin -------------------------------------------------------------------------------------------------
def test_admin_lists_events(events, superuser_client):
    response = superuser_client.get("/admin/audit/auditevent/")
    assert response.status_code == 200
    content = response.content.decode()
    for event in events:
        assert event.action in content
    assert "/admin/audit/auditevent/add/" not in content


def test_admin_change_page_is_read_only(events, superuser_client):
    event = events[0]
    seal_now()
    response = superuser_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    # The chain value now comes from the event's seal (it was the event's own hash column before sealing
    # moved out of record()).
    assert AuditEvent.objects.select_related("seal").get(pk=event.pk).hash in content
    assert 'name="_save"' not in content
    assert 'value="Save"' not in content
    assert 'name="_continue"' not in content
    assert f"/admin/audit/auditevent/{event.pk}/delete/" not in content
    # Every field is shown as text, none as an input.
    assert 'name="action"' not in content


def test_admin_refuses_changes_and_deletions(events, superuser_client):
    event = events[0]
    before = snapshot()
    response = superuser_client.post(
        f"/admin/audit/auditevent/{event.pk}/change/",
        {"action": "test.rewritten", "outcome": "failure", "_save": "Save"},
    )
    assert response.status_code == 403
    assert superuser_client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert superuser_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert superuser_client.get("/admin/audit/auditevent/add/").status_code == 403
    # The bulk delete action is not offered, so posting it changes nothing.
    superuser_client.post(
        "/admin/audit/auditevent/",
        {"action": "delete_selected", "_selected_action": [e.pk for e in events], "post": "yes"},
    )
    assert snapshot() == before


def test_admin_filters_by_organization_and_action(events, tenant_b, superuser_client):
    other = audit.record(action="test.other_clinic", organization=tenant_b.organization)
    response = superuser_client.get(
        "/admin/audit/auditevent/", {"organization__id__exact": tenant_b.organization.pk}
    )
    assert response.status_code == 200
    listed = {e.pk for e in response.context["cl"].result_list}
    assert listed == {other.pk}
    response = superuser_client.get("/admin/audit/auditevent/", {"action": "test.step2"})
    assert {e.pk for e in response.context["cl"].result_list} == {events[1].pk}
