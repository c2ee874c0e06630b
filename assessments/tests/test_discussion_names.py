"""The discussion's one name: Discussion/DiscussionMessage, the discussion.post permission, the
discussion.posted audit action and the .../discussion/ URL, renamed without touching the database; old
audit events keep their sealed name and stay findable under the new one."""

import re

import pytest
from django.core.management import call_command

import audit
from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services

from .portal import events, make_assessment, make_patient

pytestmark = pytest.mark.django_db


def test_the_rename_migration_changes_nothing_in_the_database(capsys):
    call_command("sqlmigrate", "assessments", "0013")
    sql = capsys.readouterr().out.upper()
    for statement in ("ALTER", "CREATE", "DROP", "UPDATE", "INSERT"):
        assert statement not in sql, sql


def test_posting_in_the_discussion_uses_the_new_names(tenant_a):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.post(f"/assessments/{assessment.pk}/discussion/", {"body": "Repeat in 3 months."})
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        (message,) = list(assessment.discussion.messages.all())
    assert message.body == "Repeat in 3 months."
    assert events(tenant_a.organization, "discussion.posted", message).count() == 1
    assert client.post(f"/assessments/{assessment.pk}/comments/", {"body": "old URL"}).status_code == 404


def test_an_event_written_under_the_old_name_shows_both_names_and_is_found_by_the_new(tenant_a):
    assessment = make_assessment(tenant_a, make_patient(tenant_a))
    audit.record(action="assessment.comment_posted", actor=tenant_a.users[Role.CLINICIAN],
                 organization=tenant_a.organization, details={"assessment_id": str(assessment.pk)})
    with organization_scope(tenant_a.organization):
        services.post_discussion_message(actor=tenant_a.users[Role.CLINICIAN], assessment=assessment, body="new")
    page = tenant_a.client_for(Role.AUDITOR).get("/audit/", {"action": "discussion"})
    assert page.status_code == 200
    table = page.content.decode().split("<table", 1)[1].split("</table>", 1)[0]  # the events, not the filter's options
    shown = " ".join(re.sub(r"<[^>]+>", " ", table).replace("(", " ( ").replace(")", " ) ").split())
    assert "assessment.comment_posted ( now discussion.posted )" in shown
    assert shown.count("discussion.posted") == 2
