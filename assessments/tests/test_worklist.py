"""The assessments list and the review worklist: filters validated by a form, risk ordering, the
clinician's landing page, audit, tenancy and a fixed number of queries."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services
from assessments.models import Assessment

from .portal import events, make_assessment, make_patient, text

pytestmark = pytest.mark.django_db
Status = Assessment.Status
LIST, REVIEW = "/assessments/", "/assessments/review/"


def completed(tenant, patient, *, risk="", hours_ago=0, signed=False) -> Assessment:
    """A completed assessment with this risk level, completed ``hours_ago`` hours ago."""
    assessment = make_assessment(tenant, patient)
    actor = tenant.users[Role.CLINICIAN]
    with organization_scope(tenant.organization):
        services.transition(assessment.pk, Status.RUNNING, actor=actor)
        # The result's level is the worker's to write (save_results); a transition sets only status fields.
        Assessment.objects.filter(pk=assessment.pk).update(risk_level=risk)
        services.transition(assessment.pk, Status.COMPLETED, actor=actor)
        when = timezone.now() - timedelta(hours=hours_ago)
        Assessment.objects.filter(pk=assessment.pk).update(completed_at=when, created_at=when)
        if signed:
            Assessment.objects.filter(pk=assessment.pk).update(reviewed_at=timezone.now(), reviewed_by=actor)
        return Assessment.objects.get(pk=assessment.pk)


def row_ids(response) -> list[str]:
    return re.findall(r'<tr data-assessment="([0-9a-f-]+)">', response.content.decode())


def test_to_review_puts_high_risk_first_then_the_longest_waiting(tenant_a):
    patient = make_patient(tenant_a)
    low_old = completed(tenant_a, patient, risk="low", hours_ago=50)
    high_new = completed(tenant_a, patient, risk="high", hours_ago=1)
    high_old = completed(tenant_a, patient, risk="high", hours_ago=30)
    borderline = completed(tenant_a, patient, risk="borderline", hours_ago=5)
    intermediate = completed(tenant_a, patient, risk="intermediate", hours_ago=2)
    no_level = completed(tenant_a, patient, risk="", hours_ago=100)
    completed(tenant_a, patient, risk="high", hours_ago=60, signed=True)  # signed off: not waiting
    make_assessment(tenant_a, patient)  # queued: nothing to review yet

    response = tenant_a.client_for(Role.CLINICIAN).get(REVIEW)
    assert response.status_code == 200
    expected = [high_old, high_new, intermediate, borderline, low_old, no_level]
    assert row_ids(response) == [str(a.pk) for a in expected]
    assert "6 completed results not yet signed off" in text(response)


def test_a_clinician_lands_on_the_worklist_and_an_admin_on_the_dashboard(tenant_a, password):
    from django.test import Client

    client = Client()
    response = client.post(reverse("login"), {"username": "clinician@clinic-a.example.org", "password": password})
    assert response.status_code == 302 and response["Location"] == reverse("assessments:review")
    assert client.get(response["Location"]).status_code == 200
    technician = Client().post(
        reverse("login"), {"username": "technician@clinic-a.example.org", "password": password}
    )
    assert technician["Location"] == reverse("portal:dashboard")


def test_filters_narrow_the_list(tenant_a):
    ada = make_patient(tenant_a, "P-1")
    bruno = make_patient(tenant_a, "P-2", given_name="Bruno", family_name="Keller")
    high = completed(tenant_a, ada, risk="high", hours_ago=3)
    signed_low = completed(tenant_a, bruno, risk="low", hours_ago=48, signed=True)
    queued = make_assessment(tenant_a, bruno)
    client = tenant_a.client_for(Role.CLINICIAN)

    def ids(**query):
        response = client.get(LIST, query)
        assert response.status_code == 200, text(response)
        return set(row_ids(response))

    assert ids() == {str(high.pk), str(signed_low.pk), str(queued.pk)}
    assert ids(status="queued") == {str(queued.pk)}
    assert ids(risk="high") == {str(high.pk)}
    assert ids(signed_off="yes") == {str(signed_low.pk)}
    assert ids(signed_off="no", status="completed") == {str(high.pk)}
    assert ids(patient=str(bruno.pk)) == {str(signed_low.pk), str(queued.pk)}
    assert ids(modality="cvd_risk") == ids() and ids(modality="cardiology") == set()
    every = [high, signed_low, queued]

    def day(assessment):
        with organization_scope(tenant_a.organization):
            assessment.refresh_from_db()
        return timezone.localtime(assessment.created_at).date()

    for shown in every:
        same_day = {str(a.pk) for a in every if day(a) == day(shown)}
        assert ids(requested_from=day(shown).isoformat(), requested_to=day(shown).isoformat()) == same_day
    assert ids(requested_to=(day(signed_low) - timedelta(days=1)).isoformat()) == set()
    assert ids(requested_from=(day(queued) + timedelta(days=1)).isoformat()) == set()


def test_sorting_by_risk_and_by_age(tenant_a):
    patient = make_patient(tenant_a)
    low = completed(tenant_a, patient, risk="low", hours_ago=1)
    high = completed(tenant_a, patient, risk="high", hours_ago=2)
    borderline = completed(tenant_a, patient, risk="borderline", hours_ago=3)
    client = tenant_a.client_for(Role.CLINICIAN)
    assert row_ids(client.get(LIST, {"sort": "risk"})) == [str(high.pk), str(borderline.pk), str(low.pk)]
    assert row_ids(client.get(LIST, {"sort": "oldest"})) == [str(borderline.pk), str(high.pk), str(low.pk)]
    assert row_ids(client.get(LIST, {"sort": "newest"})) == [str(low.pk), str(high.pk), str(borderline.pk)]


@pytest.mark.parametrize(
    "query, message",
    [
        ({"status": "finished"}, "Select a valid choice"),
        ({"risk": "extreme"}, "Select a valid choice"),
        ({"sort": "name"}, "Select a valid choice"),
        ({"signed_off": "maybe"}, "Select a valid choice"),
        ({"requested_from": "yesterday"}, "Enter a valid date"),
        ({"requested_from": "0202-01-01"}, "Enter a date between 2000"),
        ({"requested_from": "2026-05-02", "requested_to": "2026-05-01"}, "before its start"),
        ({"patient": "not-a-uuid"}, "Enter a valid UUID"),
        ({"patient": "7a0d6b1e-0000-4000-8000-000000000000"}, "not found in this organization"),
        ({"page": "x", "status": "queued\x00"}, "Select a valid choice"),
    ],
)
def test_a_malformed_filter_is_a_400_with_an_inline_message(tenant_a, query, message):
    completed(tenant_a, make_patient(tenant_a), risk="high")
    before = events(tenant_a.organization, "assessment.listed").count()
    response = tenant_a.client_for(Role.CLINICIAN).get(LIST, query)
    assert response.status_code == 400
    assert message in text(response)
    assert row_ids(response) == []
    assert events(tenant_a.organization, "assessment.listed").count() == before


def test_a_page_past_the_end_shows_the_last_page(tenant_a):
    completed(tenant_a, make_patient(tenant_a), risk="high")
    response = tenant_a.client_for(Role.CLINICIAN).get(LIST, {"page": "99"})
    assert response.status_code == 200 and len(row_ids(response)) == 1


def test_the_lists_are_audited_with_their_rows_and_filters(tenant_a):
    patient = make_patient(tenant_a)
    shown = completed(tenant_a, patient, risk="high")
    client = tenant_a.client_for(Role.AUDITOR)
    client.get(LIST, {"risk": "high"})
    event = events(tenant_a.organization, "assessment.listed").latest("occurred_at")
    assert event.details["ids"] == [str(shown.pk)] and event.details["patients"] == [str(patient.pk)]
    assert event.details["query"] == {"risk": "high", "page": 1}
    assert event.actor_user == tenant_a.users[Role.AUDITOR]
    client.get(REVIEW)
    event = events(tenant_a.organization, "assessment.listed").latest("occurred_at")
    assert event.details["query"] == {"view": "review", "page": 1} and event.details["ids"] == [str(shown.pk)]


def test_each_tenant_sees_only_its_own_assessments(tenant_a, tenant_b):
    mine = completed(tenant_a, make_patient(tenant_a, "A-1"), risk="high")
    theirs_patient = make_patient(tenant_b, "B-1", given_name="Zora", family_name="Other")
    theirs = completed(tenant_b, theirs_patient, risk="high")
    client = tenant_a.client_for(Role.CLINICIAN)
    for url in (LIST, REVIEW):
        response = client.get(url)
        assert row_ids(response) == [str(mine.pk)]
        assert "Zora" not in text(response) and str(theirs.pk) not in response.content.decode()
    # Another tenant's patient as a filter is "not found", as a patient that never existed.
    response = client.get(LIST, {"patient": str(theirs_patient.pk)})
    assert response.status_code == 400 and "not found in this organization" in text(response)
    assert row_ids(tenant_b.client_for(Role.CLINICIAN).get(REVIEW)) == [str(theirs.pk)]


def test_results_and_risk_filters_need_the_results_permission(tenant_a):
    patient = make_patient(tenant_a)
    high = completed(tenant_a, patient, risk="high", hours_ago=1)
    low = completed(tenant_a, patient, risk="low", hours_ago=2)
    technician = tenant_a.client_for(Role.TECHNICIAN)
    page = technician.get(LIST)
    assert "Risk level" not in text(page) and "Highest risk first" not in text(page)
    # A risk filter sent anyway is not applied: it would tell which patients are high risk.
    assert set(row_ids(technician.get(LIST, {"risk": "low"}))) == {str(high.pk), str(low.pk)}
    assert technician.get(REVIEW).status_code == 403
    clinician = tenant_a.client_for(Role.CLINICIAN).get(LIST)
    assert "Risk level" in text(clinician) and "High" in text(clinician)


def test_dashboard_counts_link_to_the_filtered_list(tenant_a):
    patient = make_patient(tenant_a)
    completed(tenant_a, patient, risk="high")
    make_assessment(tenant_a, patient)
    body = tenant_a.client_for(Role.CLINICIAN).get(reverse("portal:dashboard")).content.decode()
    assert 'href="/assessments/?status=completed"' in body and 'href="/assessments/?status=queued"' in body
    assert 'href="/assessments/review/"' in body


@pytest.mark.parametrize("url, query", [(LIST, {}), (LIST, {"risk": "high", "sort": "risk"}), (REVIEW, {})])
def test_each_list_runs_the_same_queries_for_3_or_30_rows(tenant_a, django_assert_num_queries, url, query):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(count):
        for i in range(count):
            completed(tenant_a, make_patient(tenant_a, f"Q-{url}-{len(query)}-{add.made + i}"), risk="high")
        add.made += count

    add.made = 0
    add(3)
    client = tenant_a.client_for(Role.CLINICIAN)
    client.get(url, query)  # warm the session and the organization's keys
    with CaptureQueriesContext(connection) as few:
        response = client.get(url, query)
    assert len(row_ids(response)) == 3
    add(27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, query)
    assert len(row_ids(response)) == 25
