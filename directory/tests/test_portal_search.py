"""The portal's directory pages: every member of every organization searches them, a bad parameter is a
400 with its reason beside its field, and a high-risk cardiovascular result links to facilities near the
patient's postcode and its recommendations to the medicines of the drug class they name."""

import re
from datetime import date

import pytest
from django_scopes import scopes_disabled

from accounts.roles import Role
from assessments.tests.portal import events, make_assessment, make_patient, text

from .search_data import load_facilities, load_medicines

pytestmark = pytest.mark.django_db

FACILITIES = "/directory/facilities/"
MEDICINES = "/directory/medicines/"
ROWS = [
    {"name": "CHU de Saint-Étienne", "commune": "Saint-Étienne", "category_code": "101", "postcode": "42055",
     "category_label": "Centre Hospitalier Régional (C.H.R.)", "latitude": 45.4210, "longitude": 4.4200},
    {"name": "Clinique du Parc", "commune": "Saint-Étienne", "category_code": "365", "postcode": "42100",
     "category_label": "Etablissement de Soins Pluridisciplinaire", "latitude": 45.4300, "longitude": 4.3900},
    {"name": "CH de Roanne", "commune": "Roanne", "category_code": "355", "postcode": "42300",
     "category_label": "Centre Hospitalier (C.H.)", "latitude": 46.0361, "longitude": 4.0680},
    {"name": "Pharmacie Centrale", "commune": "Roanne", "category_code": "620", "postcode": "42300",
     "category_label": "Pharmacie d'Officine", "latitude": 46.0370, "longitude": 4.0690},
]
# A panel the pooled cohort equations put at high risk (>= 20 %) for a 71-year-old man.
HIGH_RISK_PANEL = {"total_cholesterol": 260, "hdl_cholesterol": 35, "systolic_bp": 170, "smoker": True}


@pytest.mark.parametrize("role", list(Role))
def test_every_member_of_every_organization_searches_the_directory(tenant_a, tenant_b, role):
    load_facilities(*ROWS)
    load_medicines({"name": "TAHOR 20MG CPR", "atc5": "C10AA05", "boxes": 9})
    for tenant in (tenant_a, tenant_b):
        client = tenant.client_for(role)
        page = text(client.get(FACILITIES, {"q": "saint etienne"}))
        assert "CHU de Saint-Étienne" in page and "CH de Roanne" not in page
        assert "TAHOR 20MG CPR" in text(client.get(MEDICINES, {"atc": "c10aa"}))
        nav = client.get("/").content.decode()
        assert 'href="/directory/facilities/"' in nav and 'href="/directory/medicines/"' in nav


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for url in (FACILITIES, MEDICINES):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("url", "query", "reason"),
    [
        (FACILITIES, {"near": "91,4"}, "The latitude 91 is outside -90 to 90."),
        (FACILITIES, {"near": "45,4", "radius_km": "0"}, "radius_km must be a number of kilometres above 0"),
        (FACILITIES, {"category": "999"}, "Unknown category: 999"),
        (FACILITIES, {"q": "x" * 101}, "q is 101 characters long: at most 100."),
        (MEDICINES, {"atc": "C1"}, "Not an ATC code or prefix"),
    ],
)
def test_a_bad_parameter_is_a_400_with_its_reason_on_the_page(tenant_a, url, query, reason):
    load_facilities(*ROWS)
    response = tenant_a.client_for(Role.CLINICIAN).get(url, query)
    assert response.status_code == 400
    page = text(response)
    assert reason in page and "The search could not run" in page
    assert "CHU de Saint-Étienne" not in page


def test_categories_are_chosen_from_the_current_import_and_several_may_be(tenant_a):
    load_facilities(*ROWS)
    client = tenant_a.client_for(Role.CLINICIAN)
    page = text(client.get(FACILITIES, {"category": ["101", "355"]}))
    assert "CHU de Saint-Étienne" in page and "CH de Roanne" in page and "Clinique du Parc" not in page
    assert "Pharmacie d'Officine (620)" in page  # offered in the category list


def test_results_are_paged(tenant_a):
    load_facilities(*({"name": f"Clinique {n:02d}", "commune": "Lyon"} for n in range(30)))
    client = tenant_a.client_for(Role.CLINICIAN)
    first = text(client.get(FACILITIES, {"q": "clinique"}))
    second = text(client.get(FACILITIES, {"q": "clinique", "page": "2"}))
    assert "Clinique 00" in first and "Clinique 29" not in first
    assert "Clinique 29" in second and "Clinique 00" not in second
    assert "Page 2 of 2" in second


def _high_risk_result(tenant, **patient_fields):
    patient = make_patient(tenant, date_of_birth=date(1955, 1, 10), sex_at_birth="male", **patient_fields)
    assessment = make_assessment(tenant, patient, inputs=HIGH_RISK_PANEL, run=True)
    assert assessment.status == "completed" and assessment.risk_level == "high"
    return patient, assessment


def _facility_link(page: str) -> str:
    match = re.search(r'href="(/directory/facilities/\?[^"]+)"[^>]*>Find a facility<', page)
    assert match, "no Find a facility link"
    return match.group(1).replace("&amp;", "&")


def test_a_high_risk_result_finds_hospitals_near_the_patients_postcode(tenant_a):
    load_facilities(*ROWS)
    patient, assessment = _high_risk_result(tenant_a, postcode="42100")
    client = tenant_a.client_for(Role.CLINICIAN)
    link = _facility_link(client.get(f"/assessments/{assessment.pk}/").content.decode())
    assert f"patient={patient.pk}" in link and "42100" not in link  # the postcode stays on the server
    page = text(client.get(link))
    assert "Near the patient's postcode" in page
    with scopes_disabled():  # reading the postcode is a read of the patient's record: audited
        assert events(tenant_a.organization, "patient.viewed", patient).exists()
    # Hospitals only (101, 355, 365 in this import), nearest the 42100 centroid first, Roanne beyond 25 km.
    assert page.index("Clinique du Parc") < page.index("CHU de Saint-Étienne")
    assert "CH de Roanne" not in page and "Pharmacie Centrale" not in page


def test_a_postcode_no_establishment_has_searches_anywhere_and_says_why(tenant_a):
    load_facilities(*ROWS)
    _patient, assessment = _high_risk_result(tenant_a, postcode="75015")
    client = tenant_a.client_for(Role.CLINICIAN)
    page = text(client.get(_facility_link(client.get(f"/assessments/{assessment.pk}/").content.decode())))
    assert "location is unknown" in page and "CH de Roanne" in page


def test_another_organizations_patient_is_not_found(tenant_a, tenant_b):
    load_facilities(*ROWS)
    theirs = make_patient(tenant_b, postcode="42100")
    response = tenant_a.client_for(Role.CLINICIAN).get(FACILITIES, {"patient": str(theirs.pk)})
    assert response.status_code == 400
    assert "No such patient." in text(response) and "Near the patient" not in text(response)
    missing = tenant_a.client_for(Role.CLINICIAN).get(FACILITIES, {"patient": "3f1c0b3e-0000-4000-8000-000000000000"})
    assert text(missing) == text(response)


def test_a_low_risk_result_offers_no_facility_search(tenant_a):
    load_facilities(*ROWS)
    patient = make_patient(tenant_a, postcode="42100")
    assessment = make_assessment(tenant_a, patient, run=True)
    assert assessment.risk_level != "high"
    page = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/").content.decode()
    assert "Find a facility" not in page


def test_a_recommendation_naming_statins_links_to_their_atc_class(tenant_a):
    load_medicines({"name": "TAHOR 20MG CPR", "atc5": "C10AA05", "boxes": 9}, {"name": "EZETROL", "atc5": "C10AX09"})
    _patient, assessment = _high_risk_result(tenant_a)
    client = tenant_a.client_for(Role.CLINICIAN)
    page = client.get(f"/assessments/{assessment.pk}/").content.decode()
    assert "statin" in page.lower()
    match = re.search(r'href="(/directory/medicines/\?atc=C10AA)"', page)
    assert match, "no statin link"
    listing = text(client.get(match.group(1)))
    assert "TAHOR 20MG CPR" in listing and "EZETROL" not in listing
