"""Safe patient identification (issue 14, item 4): the date of birth beside every name, search as the name is
displayed and by a date of birth typed day first, a malformed date told on the page, and the list sorted by
the highest recent risk level."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments.models import Assessment

from .portal import events, make_assessment, make_patient, text

pytestmark = pytest.mark.django_db


def _rows(response) -> list[str]:
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def _levels(response) -> dict[str, str | None]:
    """Each row's name and its "Recent risk" badge (None where the row shows none)."""
    rows = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>(.*?)</tr>', response.content.decode(), re.S)
    cells = {name: re.findall(r"<td[^>]*>(.*?)</td>", rest, re.S)[3] for name, rest in rows}
    badges = {name: re.findall(r'class="badge badge-[a-z]+">([^<]+)<', cell) for name, cell in cells.items()}
    return {name: found[0] if found else None for name, found in badges.items()}


@pytest.fixture
def chens(tenant_a):
    """Three patients with one name, told apart by date of birth and MRN."""
    return [
        make_patient(tenant_a, "CHN-101", given_name="Daniel", family_name="Chen", date_of_birth=date(1950, 2, 3)),
        make_patient(tenant_a, "CHN-202", given_name="Daniel", family_name="Chen", date_of_birth=date(1971, 11, 30)),
        make_patient(tenant_a, "CHX-303", given_name="Daniel", family_name="Chen", date_of_birth=date(1988, 7, 4)),
    ]


def test_the_list_shows_each_date_of_birth(tenant_a, chens):
    page = text(tenant_a.client_for(Role.TECHNICIAN).get("/patients/"))
    for shown in ("3 Feb 1950", "30 Nov 1971", "4 Jul 1988"):
        assert shown in page
    assert "Date of birth" in page


def test_patient_and_assessment_headers_show_the_date_of_birth(tenant_a, chens):
    client = tenant_a.client_for(Role.CLINICIAN)
    patient = chens[1]
    header = re.compile(r'<div class="page-header">.*?</div>', re.S)
    patient_page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "born 30 Nov 1971" in " ".join(re.sub("<[^>]+>", " ", header.search(patient_page).group(0)).split())
    assessment = make_assessment(tenant_a, patient)
    assessment_page = client.get(f"/assessments/{assessment.pk}/").content.decode()
    heading = " ".join(re.sub("<[^>]+>", " ", header.search(assessment_page).group(0)).split())
    assert "CHN-202" in heading and "born 30 Nov 1971" in heading
    new_assessment = text(client.get(f"/patients/{patient.pk}/assessments/new/"))
    assert "born 30 Nov 1971" in new_assessment
    assert "born 30 Nov 1971" in text(client.get(f"/cognitive/patients/{patient.pk}/start/"))  # the kiosk start


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Chen, Daniel", ["CHN-101", "CHN-202", "CHX-303"]),
        ("Daniel Chen", ["CHN-101", "CHN-202", "CHX-303"]),
        ("chn", ["CHN-101", "CHN-202"]),  # MRN prefix from 3 characters
        ("chn-2", ["CHN-202"]),
        ("ch", ["CHN-101", "CHN-202", "CHX-303"]),  # 2 characters: a name prefix, not an MRN prefix
        ("30/11/1971", ["CHN-202"]),  # day first, as the portal prints dates
        ("30.11.1971", ["CHN-202"]),
        ("4/7/1988", ["CHX-303"]),
        ("1971-11-30", ["CHN-202"]),
        ("Chen, Daniel 03/02/1950", ["CHN-101"]),
        ("11/30/1971", None),  # month first names no day in a day-first reading: an error, not a guess
    ],
)
def test_search_by_displayed_name_mrn_prefix_and_date_of_birth(tenant_a, chens, query, expected):
    response = tenant_a.client_for(Role.TECHNICIAN).get("/patients/", {"q": query})
    if expected is None:
        assert response.status_code == 400
        return
    assert response.status_code == 200
    mrns = re.findall(r'<td class="mono">([^<]+)</td>', response.content.decode())
    assert sorted(mrns) == expected


@pytest.mark.parametrize("query", ["31/02/1980", "1980-13-01", "00/00/0000", "Chen 2024-02-30"])
def test_a_malformed_date_is_an_inline_message_and_finds_nobody(tenant_a, chens, query):
    client = tenant_a.client_for(Role.TECHNICIAN)
    before = events(tenant_a.organization, "patient.listed").count()
    response = client.get("/patients/", {"q": query})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="patient-search-error"' in body and 'aria-invalid="true"' in body
    assert "is not a date: write a date of birth as YYYY-MM-DD or DD/MM/YYYY" in text(response)
    assert _rows(response) == []
    assert events(tenant_a.organization, "patient.listed").count() == before  # nothing was read


def _graded(tenant, patient, level, *, days_ago=0, modality="cvd_risk", status="completed"):
    assessment = make_assessment(tenant, patient)
    with organization_scope(tenant.organization):
        # A result's level as the worker stores it (the grading itself is each modality's tests' business).
        Assessment.objects.filter(pk=assessment.pk).update(
            status=status, risk_level=level, modality=modality,
            created_at=timezone.now() - timedelta(days=days_ago),
        )
    return assessment


def test_the_list_sorts_by_highest_recent_risk_level_across_modalities(tenant_a):
    p = {name: make_patient(tenant_a, f"R-{name}", family_name=name.capitalize())
         for name in ("quiet", "low", "mid", "retina", "high", "old", "failed")}
    _graded(tenant_a, p["low"], "low", days_ago=1)
    _graded(tenant_a, p["mid"], "intermediate", days_ago=3)
    _graded(tenant_a, p["mid"], "low", days_ago=1)  # the highest recent level counts, not the latest
    _graded(tenant_a, p["retina"], "intermediate", days_ago=1, modality="retinal")  # newer at the same level
    _graded(tenant_a, p["high"], "high", days_ago=20)
    _graded(tenant_a, p["old"], "high", days_ago=400)  # not recent: ranks with no result
    _graded(tenant_a, p["failed"], "high", status="failed")  # not a result
    client = tenant_a.client_for(Role.CLINICIAN)
    response = client.get("/patients/", {"sort": "risk"})
    assert response.status_code == 200
    rows = _rows(response)
    assert rows[:4] == ["High, Ada", "Retina, Ada", "Mid, Ada", "Low, Ada"]
    assert set(rows[4:]) == {"Quiet, Ada", "Old, Ada", "Failed, Ada"}
    assert "highest recent risk first" in text(response)
    # The default stays last activity: the failed assessment was the latest activity. Its rows show the same
    # highest recent level (read there by one subquery, not the sort's three).
    default = client.get("/patients/")
    assert _rows(default)[0] == "Failed, Ada"
    assert _levels(default) == {"Quiet, Ada": None, "Low, Ada": "Low", "Mid, Ada": "Intermediate",
                                "Retina, Ada": "Intermediate", "High, Ada": "High", "Old, Ada": None,
                                "Failed, Ada": None}  # fmt: skip


def test_who_cannot_read_results_cannot_sort_by_them(tenant_a):
    calm = make_patient(tenant_a, "T-1", family_name="Calm")
    _graded(tenant_a, make_patient(tenant_a, "T-2", family_name="Grave"), "high", days_ago=5)
    make_assessment(tenant_a, calm)  # the latest activity
    response = tenant_a.client_for(Role.TECHNICIAN).get("/patients/", {"sort": "risk"})
    assert response.status_code == 200
    assert _rows(response) == ["Calm, Ada", "Grave, Ada"]
    assert "Recent risk" not in text(response) and "High" not in text(response)


def test_an_unknown_sort_is_an_inline_message(tenant_a):
    make_patient(tenant_a, "U-1")
    response = tenant_a.client_for(Role.CLINICIAN).get("/patients/", {"sort": "name"})
    assert response.status_code == 400
    assert _rows(response) == []
    body = response.content.decode()
    assert 'id="patient-sort-error"' in body and "Select a valid choice. name is not one of the available" in body


def test_the_risk_sorted_list_runs_the_same_queries_for_3_or_30_patients(tenant_a, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(3):
        _graded(tenant_a, make_patient(tenant_a, f"Q-{i:03d}"), "borderline", days_ago=i)
    client = tenant_a.client_for(Role.CLINICIAN)
    client.get("/patients/", {"sort": "risk"})
    with CaptureQueriesContext(connection) as few:
        assert client.get("/patients/", {"sort": "risk"}).status_code == 200
    for i in range(3, 30):
        _graded(tenant_a, make_patient(tenant_a, f"Q-{i:03d}"), "high", days_ago=i)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/patients/", {"sort": "risk"}).content.decode().count(">High</span>") == 25
