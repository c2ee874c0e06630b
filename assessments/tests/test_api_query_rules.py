"""Query parameters the schema publishes are the ones the API accepts: a page size outside 1-200 (or not a
number), a cursor the API never issued, an empty filter, a path that matches no route: each a 400 or 404 in
the API's one error shape, never a silently different answer or an HTML page."""

import pytest

from .helpers_api import assert_error, make_patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page_size", ["false", "0", "201", "-1", "1.5", "", "٣"])
def test_a_page_size_outside_the_schema_is_a_400(tenant_a, page_size):
    make_patient(tenant_a)
    for url in ("/api/v1/patients/", "/api/v1/assessments/"):
        response = tenant_a.api().get(url, {"page_size": page_size})
        assert_error(response, 400, field="page_size")


def test_a_page_size_inside_the_schema_pages(tenant_a):
    for _ in range(3):
        make_patient(tenant_a)
    response = tenant_a.api().get("/api/v1/patients/", {"page_size": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2 and response.json()["next"]
    assert len(tenant_a.api().get("/api/v1/patients/", {"page_size": "200"}).json()["results"]) == 3


def test_a_cursor_the_api_never_issued_is_a_400(tenant_a):
    response = tenant_a.api().get("/api/v1/patients/", {"cursor": "not-a-cursor"})
    assert_error(response, 400, field="cursor")


@pytest.mark.parametrize("name", ["created_after", "created_before", "patient", "status", "modality"])
def test_an_empty_assessment_filter_is_a_400(tenant_a, name):
    response = tenant_a.api().get("/api/v1/assessments/", {name: ""})
    assert_error(response, 400, field=name)


def test_a_given_filter_still_filters(tenant_a):
    response = tenant_a.api().get("/api/v1/assessments/", {"created_after": "2020-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["results"] == []


def test_an_api_path_that_matches_no_route_is_a_json_404(tenant_a):
    response = tenant_a.api().get("/api/v1/patients/not-a-uuid/")
    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, code="not_found")


def test_a_portal_path_that_matches_no_route_is_still_the_html_page(tenant_a):
    response = tenant_a.client_for("clinician").get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("days", ["0", "3651", "x"])
def test_biomarker_history_days_outside_1_to_3650_is_a_400(tenant_a, days):
    patient = make_patient(tenant_a)
    response = tenant_a.api().get(f"/api/v1/patients/{patient.pk}/biomarkers/", {"name": "bmi", "days": days})
    assert_error(response, 400, field="days")


def test_a_fhir_path_that_matches_no_route_is_an_operation_outcome(tenant_a):
    response = tenant_a.api().get("/api/v1/fhir/Patient/")
    assert response.status_code == 404 and response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "OperationOutcome"
