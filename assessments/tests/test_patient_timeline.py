"""A patient's timeline (issue 14, item 5): assessments, sign-offs and discussion messages in time order,
results only for who may read them, audited as a read, in a fixed number of queries, 404 across tenants."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services

from .portal import events, make_assessment, make_patient, text

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    items = re.findall(r'<li class="timeline-(\w+)">', response.content.decode())
    return items


@pytest.fixture
def story(tenant_a):
    patient = make_patient(tenant_a, "TL-1")
    first = make_assessment(tenant_a, patient, run=True)
    with organization_scope(tenant_a.organization):
        services.post_discussion_message(
            actor=tenant_a.users["clinician"], assessment=first, body="Repeat the lipids in June."
        )
        services.sign_off(actor=tenant_a.users["clinician"], assessment=first, note="Reviewed with the patient.")
    second = make_assessment(tenant_a, patient)  # still queued
    return patient, first, second


def test_the_timeline_lists_assessments_sign_offs_and_messages_newest_first(tenant_a, story):
    patient, first, second = story
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.get(f"/patients/{patient.pk}/timeline/")
    assert response.status_code == 200
    kinds = _titles(response)
    assert kinds[:5] == ["requested", "signed_off", "message", "completed", "requested"]
    assert sorted(kinds[5:]) == ["consent", "record"]  # both stamped when the record was created
    page = text(response)
    assert "Repeat the lipids in June." in page and "Reviewed with the patient." in page
    assert "born 14 Mar 1965" in page  # the header tells the patient apart
    body = response.content.decode()
    assert f"/assessments/{first.pk}/#discussion" in body and f"/assessments/{second.pk}/" in body
    assert re.search(r"Low risk|Borderline risk|Intermediate risk|High risk", page)
    event = events(tenant_a.organization, "patient.viewed", patient).get()
    assert event.details["page"] == "timeline"
    assert set(event.details["assessments"]) == {str(first.pk), str(second.pk)}
    assert f'href="/patients/{patient.pk}/timeline/"' in client.get(f"/patients/{patient.pk}/").content.decode()


def test_who_cannot_read_results_sees_no_messages_notes_or_levels(tenant_a, story):
    patient, _, _ = story
    response = tenant_a.client_for(Role.TECHNICIAN).get(f"/patients/{patient.pk}/timeline/")
    assert response.status_code == 200
    assert "message" not in _titles(response) and "signed_off" in _titles(response)
    page = text(response)
    assert "Repeat the lipids" not in page and "Reviewed with the patient" not in page
    assert 'class="badge' not in response.content.decode().split('<ol class="timeline">')[1]  # no risk level


def test_the_timeline_runs_the_same_queries_for_few_or_many_events(tenant_a, django_assert_max_num_queries):
    patient = make_patient(tenant_a, "TL-2")
    make_assessment(tenant_a, patient)
    client = tenant_a.client_for(Role.CLINICIAN)
    url = f"/patients/{patient.pk}/timeline/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for _ in range(8):
        assessment = make_assessment(tenant_a, patient, run=True)
        with organization_scope(tenant_a.organization):
            services.post_discussion_message(actor=tenant_a.users["org_admin"], assessment=assessment, body="Seen.")
            services.sign_off(actor=tenant_a.users["clinician"], assessment=assessment, note="")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert len(_titles(response)) == 2 + 1 + 8 * 4


def test_another_organizations_patient_is_a_404(tenant_a, tenant_b):
    theirs = make_patient(tenant_b, "TL-B")
    mine = make_patient(tenant_a, "TL-A")
    client = tenant_a.client_for(Role.CLINICIAN)
    assert client.get(f"/patients/{theirs.pk}/timeline/").status_code == 404
    assert client.get(f"/patients/{mine.pk}/timeline/").status_code == 200
