"""Notifications: who is told of what, once however often the task runs, by email only as each user
chooses and never with patient data; the bell, the list and marking read, each user's own only."""

import itertools
import re
from datetime import date

import pytest
from django.core import mail
from django.test import Client

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services as assessment_services
from assessments.models import Assessment
from medilens.testing.factories import make_member
from notifications import services, tasks
from notifications.kinds import Kind
from notifications.models import EmailPreference, Notification

pytestmark = pytest.mark.django_db
Status = Assessment.Status
PATIENT = {
    "mrn": "MRN-55231", "given_name": "Philippa", "family_name": "Quarrington", "date_of_birth": date(1961, 7, 23)
}


_serial = itertools.count(1)


def make_patient(tenant):
    with organization_scope(tenant.organization):
        return assessment_services.create_patient(
            actor=tenant.users[Role.CLINICIAN], organization=tenant.organization, consent=True,
            sex_at_birth="female", **{**PATIENT, "mrn": f"{PATIENT['mrn']}{next(_serial)}"},
        )


def finished(tenant, *, status=Status.COMPLETED, risk="high", requester=Role.CLINICIAN) -> Assessment:
    """An assessment requested by ``requester`` that completed (with ``risk``) or failed."""
    actor = tenant.users[requester]
    with organization_scope(tenant.organization):
        assessment = assessment_services.create_assessment(
            actor=actor, organization=tenant.organization, patient=make_patient(tenant), modality="cvd_risk",
            inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120},
        )
        assessment_services.transition(assessment.pk, Status.RUNNING, actor=actor)
        if status == Status.COMPLETED:
            # The result's level is the worker's to write (save_results); a transition sets only status fields.
            Assessment.objects.filter(pk=assessment.pk).update(risk_level=risk)
            return assessment_services.transition(assessment.pk, status, actor=actor)
        return assessment_services.transition(assessment.pk, status, actor=actor, reason="The input could not be read.")


def inbox(user) -> list[tuple[str, str]]:
    return sorted(Notification.objects.with_scopes_disabled().filter(recipient=user).values_list("kind", "event_key"))


def emails_to(user) -> list:
    return [message for message in mail.outbox if message.to == [user.email]]


# --- who is told of what, once --------------------------------------------------------------------------
def test_a_completed_high_risk_result_tells_the_requester_and_the_clinicians_once(tenant_a):
    second = make_member(tenant_a.organization, Role.CLINICIAN, email="second.clinician@clinic-a.example.org")
    requester, technician = tenant_a.users[Role.CLINICIAN], tenant_a.users[Role.TECHNICIAN]
    assessment = finished(tenant_a, risk="high", requester=Role.TECHNICIAN)

    assert tasks.notify_assessment_finished.apply(args=[str(assessment.pk)]).get() == 3
    # Redelivered (acks_late): the same task, run again, adds nothing and sends nothing.
    assert tasks.notify_assessment_finished.apply(args=[str(assessment.pk)]).get() == 0

    assert [kind for kind, _ in inbox(technician)] == [Kind.ASSESSMENT_COMPLETED]
    assert [kind for kind, _ in inbox(requester)] == [Kind.HIGH_RISK]
    assert [kind for kind, _ in inbox(second)] == [Kind.HIGH_RISK]
    assert inbox(tenant_a.users[Role.AUDITOR]) == [] and inbox(tenant_a.users[Role.ORG_ADMIN]) == []
    assert len(emails_to(technician)) == len(emails_to(requester)) == len(emails_to(second)) == 1
    assert len(mail.outbox) == 3


def test_a_failure_tells_the_requester_and_a_low_risk_result_tells_no_clinician(tenant_a):
    failed = finished(tenant_a, status=Status.FAILED)
    low = finished(tenant_a, risk="low", requester=Role.TECHNICIAN)
    tasks.notify_assessment_finished.apply(args=[str(failed.pk)])
    tasks.notify_assessment_finished.apply(args=[str(low.pk)])
    assert [kind for kind, _ in inbox(tenant_a.users[Role.CLINICIAN])] == [Kind.ASSESSMENT_FAILED]
    assert [kind for kind, _ in inbox(tenant_a.users[Role.TECHNICIAN])] == [Kind.ASSESSMENT_COMPLETED]


@pytest.mark.parametrize(
    ("requester", "risk", "queued"), [("partner", "low", False), ("partner", "high", True), ("person", "low", True)]
)
def test_a_finished_assessment_queues_its_notification_task_only_when_it_could_tell_someone(
    tenant_a, django_capture_on_commit_callbacks, requester, risk, queued
):
    # A partner's API key is told by webhooks, not here: its low-risk result has nobody to tell, so no task
    # is queued for it (one publish fewer per assessment the API submits). A person who asked is told, and a
    # high-risk result is told to the clinicians whoever asked.
    actor = tenant_a.api_clients["clinician"] if requester == "partner" else tenant_a.users[Role.CLINICIAN]
    with organization_scope(tenant_a.organization):
        assessment = assessment_services.create_assessment(
            actor=actor, organization=tenant_a.organization, patient=make_patient(tenant_a), modality="cvd_risk",
            inputs={"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120},
        )
        assessment_services.transition(assessment.pk, Status.RUNNING, actor="system:worker")
        Assessment.objects.filter(pk=assessment.pk).update(risk_level=risk)
        with django_capture_on_commit_callbacks() as callbacks:
            assessment_services.transition(assessment.pk, Status.COMPLETED, actor="system:worker")
    assert len(callbacks) == (1 if queued else 0), callbacks
    if queued:  # and the task it queues does tell someone
        assert tasks.notify_assessment_finished.apply(args=[str(assessment.pk)]).get() >= 1


def test_an_email_interrupted_before_it_was_marked_is_sent_by_the_next_run_only(tenant_a):
    assessment = finished(tenant_a, risk="low")
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    assert len(mail.outbox) == 1
    # As if the worker died after the row was written but before its email went out.
    Notification.objects.with_scopes_disabled().update(emailed_at=None)
    mail.outbox.clear()
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    assert len(mail.outbox) == 1 and Notification.objects.with_scopes_disabled().count() == 1


def test_emails_carry_the_kind_and_a_link_and_no_patient_data(tenant_a):
    assessment = finished(tenant_a, risk="high", requester=Role.TECHNICIAN)
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    with organization_scope(tenant_a.organization):
        message = assessment_services.post_discussion_message(
            actor=tenant_a.users[Role.ORG_ADMIN], assessment=assessment,
            body=f"@clinician please look at {PATIENT['given_name']} {PATIENT['family_name']} ({PATIENT['mrn']})",
        )
    tasks.notify_mentions.apply(args=[tenant_a.organization.pk, message.pk])
    kinds = {message.subject for message in mail.outbox}
    assert len(kinds) == 3, kinds  # completed, high risk, mention
    dob = PATIENT["date_of_birth"]
    forbidden = [PATIENT["mrn"], PATIENT["given_name"], PATIENT["family_name"], dob.isoformat(),
                 dob.strftime("%d/%m/%Y"), dob.strftime("%m/%d/%Y"), dob.strftime("%-d %b %Y"), "1961"]
    for sent in mail.outbox:
        whole = f"{sent.subject}\n{sent.body}\n{sent.alternatives}".lower()
        for value in forbidden:
            assert value.lower() not in whole, (value, sent.subject)
        assert f"/assessments/{assessment.pk}/" in sent.body
        assert "No patient data is included" in sent.body


# --- mentions ------------------------------------------------------------------------------------------
def test_a_mention_by_email_or_by_unique_name_reaches_members_of_the_organization_only(tenant_a, tenant_b):
    assessment = finished(tenant_a, risk="low")
    author = tenant_a.users[Role.CLINICIAN]
    body = ("@technician@clinic-a.example.org and @org_admin, also @auditor (reads only), @clinician (me), "
            "@clinician@clinic-b.example.org (another clinic), @nobody and name@example.org (an address)")
    with organization_scope(tenant_a.organization):
        message = assessment_services.post_discussion_message(actor=author, assessment=assessment, body=body)
    assert tasks.notify_mentions.apply(args=[tenant_a.organization.pk, message.pk]).get() == 2
    assert tasks.notify_mentions.apply(args=[tenant_a.organization.pk, message.pk]).get() == 0
    mentioned = Notification.objects.with_scopes_disabled().filter(kind=Kind.MENTION)
    told = set(mentioned.values_list("recipient", flat=True))
    assert told == {tenant_a.users[Role.TECHNICIAN].pk, tenant_a.users[Role.ORG_ADMIN].pk}
    link = Notification.objects.with_scopes_disabled().filter(kind=Kind.MENTION).values_list("link", flat=True)[0]
    assert link == f"/assessments/{assessment.pk}/#discussion"


def test_an_ambiguous_short_mention_tells_nobody(tenant_a):
    make_member(tenant_a.organization, Role.CLINICIAN, email="technician@elsewhere.example.org")
    assessment = finished(tenant_a, risk="low")
    with organization_scope(tenant_a.organization):
        message = assessment_services.post_discussion_message(
            actor=tenant_a.users[Role.CLINICIAN], assessment=assessment, body="@technician can you repeat it?"
        )
    assert tasks.notify_mentions.apply(args=[tenant_a.organization.pk, message.pk]).get() == 0


def test_bulk_access_alerts_reach_the_org_admins_in_app(tenant_a):
    assert tasks.notify_bulk_access.apply(args=[tenant_a.organization.pk, 987]).get() == 1
    assert [kind for kind, _ in inbox(tenant_a.users[Role.ORG_ADMIN])] == [Kind.BULK_ACCESS]
    # The audit monitor emails admins itself (audit/bulk_access.py); no second email from here.
    assert mail.outbox == []


# --- email choices -------------------------------------------------------------------------------------
def test_a_user_who_turned_an_email_off_is_told_in_app_only(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    assert client.post("/notifications/settings/", {"email": [Kind.HIGH_RISK, Kind.MENTION]}).status_code == 302
    user = tenant_a.users[Role.CLINICIAN]
    assert dict(EmailPreference.objects.filter(user=user).values_list("kind", "email")) == {
        Kind.ASSESSMENT_COMPLETED: False, Kind.ASSESSMENT_FAILED: False, Kind.HIGH_RISK: True, Kind.MENTION: True,
    }
    assessment = finished(tenant_a, risk="low")
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    assert inbox(user) and mail.outbox == []
    page = client.get("/notifications/settings/").content.decode()
    assert re.search(r'value="high_risk"[^>]*checked', page)
    assert not re.search(r'value="assessment_completed"[^>]*checked', page)


def test_an_unknown_email_choice_is_a_400_and_changes_nothing(tenant_a):
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.post("/notifications/settings/", {"email": ["bulk_access", "everything"]})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not EmailPreference.objects.exists()


# --- the bell and the list -----------------------------------------------------------------------------
def _bell(response) -> int:
    return int(re.search(r'data-unread="(\d+)"', response.content.decode()).group(1))


def test_the_bell_counts_unread_and_marking_read_clears_it(tenant_a):
    assessment = finished(tenant_a, risk="high")
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    client = tenant_a.client_for(Role.CLINICIAN)
    assert _bell(client.get("/")) == 2  # completed (requester) and high risk (clinician)
    listing = client.get("/notifications/")
    assert "An assessment you requested has completed" in listing.content.decode()
    first = Notification.objects.with_scopes_disabled().filter(kind=Kind.HIGH_RISK).get()
    response = client.post(f"/notifications/{first.pk}/read/", {"open": "1"})
    assert response.status_code == 302 and response["Location"] == f"/assessments/{assessment.pk}/"
    assert _bell(client.get("/")) == 1
    assert client.post("/notifications/read-all/").status_code == 302
    assert _bell(client.get("/")) == 0
    assert Notification.objects.with_scopes_disabled().filter(read_at=None).count() == 0


def test_a_user_sees_and_marks_only_their_own(tenant_a, tenant_b):
    assessment = finished(tenant_a, risk="low")
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    theirs = Notification.objects.with_scopes_disabled().get(recipient=tenant_a.users[Role.CLINICIAN])
    colleague = tenant_a.client_for(Role.ORG_ADMIN)
    assert _bell(colleague.get("/")) == 0
    assert "An assessment you requested" not in colleague.get("/notifications/").content.decode()
    assert colleague.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    colleague.post("/notifications/read-all/")
    assert tenant_b.client_for(Role.ORG_ADMIN).post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_an_auditor_reads_their_list_but_changes_nothing(tenant_a):
    auditor = tenant_a.client_for(Role.AUDITOR)
    assert auditor.get("/notifications/").status_code == 200
    assert auditor.post("/notifications/read-all/").status_code == 403


def test_creating_notifications_is_audited(tenant_a):
    from audit.models import AuditEvent

    assessment = finished(tenant_a, risk="low")
    tasks.notify_assessment_finished.apply(args=[str(assessment.pk)])
    event = AuditEvent.objects.get(action="notification.created", organization=tenant_a.organization)
    assert event.details["kind"] == Kind.ASSESSMENT_COMPLETED


def test_services_refuse_a_kind_that_is_not_a_choice(tenant_a):
    with pytest.raises(ValueError):
        services.set_email_preferences(
            user=tenant_a.users[Role.CLINICIAN], organization=tenant_a.organization, email_kinds=["bulk_access"]
        )


def test_signed_out_pages_have_no_bell(tenant_a):
    assert 'id="notification-bell"' not in Client().get("/accounts/login/").content.decode()
