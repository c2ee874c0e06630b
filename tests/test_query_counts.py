"""Pages and endpoints that list rows run the same statements for 3 rows as for 30: an N+1 fails here
(Saleor's rule, DESIGN.md). Each test requests the page once to warm the session and the organization's
keys, counts the statements with 3 rows, adds 27, and asserts exactly that count again, and that the
rows are really on the page.

Lists covered elsewhere: the assessment list and review worklist (assessments/tests/test_worklist.py), the
patient list (test_portal_patients.py, test_patient_identification.py), the patient page's trend chart
(test_patient_trends.py), the timeline (test_patient_timeline.py), the API lists (test_api_platform.py).
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services as account_services
from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import services
from assessments.tests.portal import make_assessment, make_patient, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def _same_for_3_and_30(client, url, add, rows, django_assert_num_queries, params=None, *, api=False):
    """``add(n)`` makes n more rows; ``rows(response)`` counts those shown."""
    add(3)
    client.get(url, params or {})
    with CaptureQueriesContext(connection) as few:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    assert rows(response) == 3
    add(27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, params or {})
    assert response.status_code == 200
    assert rows(response) == 30
    return len(few.captured_queries)


def _counter(make):
    made = {"n": 0}

    def add(count):
        for _ in range(count):
            make(made["n"])
            made["n"] += 1

    return add


def test_patient_detail(tenant_a, django_assert_num_queries):
    patient = make_patient(tenant_a, "QC-P")
    _same_for_3_and_30(
        tenant_a.client_for(Role.CLINICIAN), reverse("assessments:patient_detail", args=[patient.pk]),
        _counter(lambda n: make_assessment(tenant_a, patient, run=True)),
        lambda response: len(set(re.findall(r'href="/assessments/([0-9a-f-]{36})/"', response.content.decode()))),
        django_assert_num_queries,
    )


def test_dashboard(tenant_a, django_assert_num_queries):
    def make(n):
        patient = make_patient(tenant_a, f"QC-D-{n}")
        make_assessment(tenant_a, patient, run=n % 2 == 0)

    url = reverse("portal:dashboard")
    client = tenant_a.client_for(Role.CLINICIAN)
    add = _counter(make)
    add(3)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add(27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_audit_log(tenant_a, django_assert_num_queries):
    """Events of several kinds (patients, assessments, memberships, API clients), their targets described."""
    def make(n):
        patient = make_patient(tenant_a, f"QC-A-{n}")
        make_assessment(tenant_a, patient)

    client = tenant_a.client_for(Role.ORG_ADMIN)
    url = reverse("audit:log")
    add = _counter(make)
    add(3)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        first = client.get(url)
    assert first.status_code == 200
    add(27)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("<tr") > first.content.decode().count("<tr")


def test_members(tenant_a, django_assert_num_queries):
    def make(n):
        user = account_services.create_user(
            acting_user="system:test", email=f"member{n}@clinic-a.example.org", full_name=f"Member {n}", password=None
        )
        account_services.add_membership(
            acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, user=user,
            role=Role.CLINICIAN,
        )

    _same_for_3_and_30(
        tenant_a.client_for(Role.ORG_ADMIN), reverse("accounts:members"), _counter(make),
        lambda response: len(set(re.findall(r"member\d+@clinic-a\.example\.org", response.content.decode()))),
        django_assert_num_queries,
    )


def test_api_clients(tenant_a, django_assert_num_queries):
    def make(n):
        account_services.create_api_client(
            acting_user=tenant_a.users[Role.ORG_ADMIN], organization=tenant_a.organization, name=f"Partner {n:03d}",
            access="clinician",
        )

    _same_for_3_and_30(
        tenant_a.client_for(Role.ORG_ADMIN), reverse("accounts:api_clients"), _counter(make),
        lambda response: len(set(re.findall(r"Partner \d{3}", response.content.decode()))),
        django_assert_num_queries,
    )


@pytest.fixture
def attached(tenant_a):
    patient = make_patient(tenant_a, "QC-F")
    assessment = make_assessment(tenant_a, patient, run=True)

    def make(n):
        with organization_scope(tenant_a.organization):
            services.add_attachments(
                actor=tenant_a.users[Role.CLINICIAN], assessment=assessment,
                files=[upload(f"letter-{n:03d}.pdf", pdf_bytes(), "application/pdf")],
            )

    return assessment, _counter(make)


def test_attachments_on_the_assessment_page(tenant_a, attached, django_assert_num_queries):
    assessment, add = attached
    _same_for_3_and_30(
        tenant_a.client_for(Role.CLINICIAN), reverse("assessments:assessment_detail", args=[assessment.pk]), add,
        lambda response: len(set(re.findall(r'href="/files/(\d+)/download/"', response.content.decode()))),
        django_assert_num_queries,
    )


def test_attachments_through_the_api(tenant_a, attached, django_assert_num_queries):
    assessment, add = attached
    _same_for_3_and_30(
        tenant_a.api(), f"/api/v1/assessments/{assessment.pk}/attachments/", add,
        lambda response: sum(file["kind"] == "attachment" for file in response.json()),
        django_assert_num_queries,
    )


def test_biomarker_history_through_the_api(tenant_a, django_assert_num_queries):
    patient = make_patient(tenant_a, "QC-H")
    _same_for_3_and_30(
        tenant_a.api(), f"/api/v1/patients/{patient.pk}/biomarkers/",
        _counter(lambda n: make_assessment(tenant_a, patient, run=True)),
        lambda response: len(response.json()["values"]),
        django_assert_num_queries,
        params={"name": "pce_ascvd_10y", "days": 30},
    )
