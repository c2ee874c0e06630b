"""GET /api/v1/directory/facilities/ and /medicines/: readable by every key of every organization, refused
without one; each malformed parameter a 400 naming it and why; cursor paging; a new import never answered
from the cache; a bounded number of queries whatever the page holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiClient
from assessments.tests.helpers_api import assert_error
from directory.models import DirectorySource, Facility, Source
from directory.text import fold

from .search_data import load_facilities, load_medicines

pytestmark = pytest.mark.django_db

FACILITIES = "/api/v1/directory/facilities/"
MEDICINES = "/api/v1/directory/medicines/"

ROWS = [
    {"name": "CHU de Saint-Étienne", "commune": "Saint-Étienne", "category_code": "101", "postcode": "42055",
     "latitude": 45.4210, "longitude": 4.4200},
    {"name": "Hôpital de Firminy", "commune": "Firminy", "category_code": "355", "postcode": "42700",
     "latitude": 45.3883, "longitude": 4.2889},
    {"name": "CH de Roanne", "commune": "Roanne", "category_code": "355", "postcode": "42300",
     "latitude": 46.0361, "longitude": 4.0680},
]


def names(response) -> list[str]:
    assert response.status_code == 200, response.content[:1000]
    return [row["name"] for row in response.json()["results"]]


def test_every_key_of_every_organization_reads_the_directory(tenant_a, tenant_b):
    load_facilities(*ROWS)
    load_medicines({"name": "TAHOR 20MG CPR", "atc5": "C10AA05", "boxes": 9})
    for tenant in (tenant_a, tenant_b):
        for access in (ApiClient.Access.CLINICIAN, ApiClient.Access.READ_ONLY):
            client = tenant.api(access)
            assert names(client.get(FACILITIES, {"q": "saint etienne"})) == ["CHU de Saint-Étienne"]
            assert names(client.get(MEDICINES, {"atc": "C10AA"})) == ["TAHOR 20MG CPR"]


def test_without_a_key_the_directory_is_refused(client):
    load_facilities(*ROWS)
    for url in (FACILITIES, MEDICINES):
        response = client.get(url)
        assert_error(response, 401)
        assert "Saint" not in response.content.decode()
        assert_error(client.get(url, HTTP_AUTHORIZATION="Bearer mlk_nope_nope"), 401)


def test_a_facility_answer_carries_its_fields_and_distance(tenant_a):
    load_facilities(*ROWS)
    body = tenant_a.api().get(FACILITIES, {"near": "45.4397,4.3872", "radius_km": "20"}).json()
    assert [row["name"] for row in body["results"]] == ["CHU de Saint-Étienne", "Hôpital de Firminy"]
    first = body["results"][0]
    assert first["category_code"] == "101" and first["postcode"] == "42055" and first["finess"]
    # By hand, flat-earth over 3 km: 0.0187° south = 2.08 km, 0.0328° east x cos(45.43°) = 2.56 km: 3.30 km.
    assert 3.2 < first["distance_km"] < 3.4
    assert body["count"] == 2 and body["limited"] is False and body["next"] is None


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (FACILITIES, {"near": "somewhere"}, "near"),
        (FACILITIES, {"near": "45.4"}, "near"),
        (FACILITIES, {"near": "91,4"}, "near"),
        (FACILITIES, {"near": "45,-181"}, "near"),
        (FACILITIES, {"near": "nan,4"}, "near"),
        (FACILITIES, {"near": "45,4", "radius_km": "0"}, "radius_km"),
        (FACILITIES, {"near": "45,4", "radius_km": "-5"}, "radius_km"),
        (FACILITIES, {"near": "45,4", "radius_km": "201"}, "radius_km"),
        (FACILITIES, {"near": "45,4", "radius_km": "ten"}, "radius_km"),
        (FACILITIES, {"radius_km": "10"}, "radius_km"),
        (FACILITIES, {"q": "x" * 101}, "q"),
        (FACILITIES, {"q": "--"}, "q"),
        (FACILITIES, {"q": "a\x00b"}, "q"),
        (FACILITIES, {"category": "999"}, "category"),
        (FACILITIES, {"category": "1 0 1"}, "category"),
        (FACILITIES, {"department": "ABCD"}, "department"),
        (FACILITIES, {"department": "42,43"}, "department"),
        (FACILITIES, {"q": ""}, "q"),
        (FACILITIES, {"page_size": "0"}, "page_size"),
        (FACILITIES, {"cursor": "not-a-cursor"}, "cursor"),
        (MEDICINES, {"atc": "C1"}, "atc"),
        (MEDICINES, {"atc": "C10AA5"}, "atc"),
        (MEDICINES, {"atc": ""}, "atc"),
        (MEDICINES, {"q": "y" * 101}, "q"),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(tenant_a, url, query, field):
    load_facilities(*ROWS)
    error = assert_error(tenant_a.api().get(url, query), 400, field=field)
    assert error["fields"][field][0].endswith(".")


def test_the_reason_says_what_is_wrong(tenant_a):
    load_facilities(*ROWS)
    api = tenant_a.api()
    assert "outside -90 to 90" in api.get(FACILITIES, {"near": "91,4"}).json()["error"]["fields"]["near"][0]
    assert "Unknown category: 999" in api.get(FACILITIES, {"category": "999"}).json()["error"]["fields"]["category"][0]
    assert "at most 100" in api.get(FACILITIES, {"q": "x" * 101}).json()["error"]["fields"]["q"][0]


def test_pages_follow_the_cursor_both_ways(tenant_a):
    load_facilities(*ROWS, *({"name": f"Clinique {n}", "commune": "Lyon"} for n in range(5)))
    api = tenant_a.api()
    first = api.get(FACILITIES, {"page_size": "3"}).json()
    assert first["previous"] is None and first["count"] == 8
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    assert third["next"] is None
    seen = [row["finess"] for page in (first, second, third) for row in page["results"]]
    assert len(seen) == len(set(seen)) == 8
    assert api.get(second["previous"]).json()["results"] == first["results"]


def test_a_cursor_of_an_older_import_is_refused_after_a_new_one(tenant_a):
    load_facilities(*ROWS)
    first = tenant_a.api().get(FACILITIES, {"page_size": "1"}).json()
    load_facilities(*ROWS)
    error = assert_error(tenant_a.api().get(first["next"]), 400, field="cursor")
    assert "updated" in error["fields"]["cursor"][0]


def test_a_new_import_is_never_answered_from_the_cache(tenant_a):
    load_facilities({"name": "Clinique du Parc", "commune": "Lyon"})
    api = tenant_a.api()
    assert names(api.get(FACILITIES, {"q": "clinique"})) == ["Clinique du Parc"]
    # A row slipped into the same dataset behind the search's back is not seen: the answer was cached.
    current = DirectorySource.objects.get(source=Source.FINESS).current
    Facility.objects.create(
        dataset=current, finess="999999999", name="Clinique Cachée", commune="Lyon",
        name_folded=fold("Clinique Cachée"), commune_folded="lyon",
    )
    assert names(api.get(FACILITIES, {"q": "clinique"})) == ["Clinique du Parc"]
    # A new import (a new current dataset) is searched at once.
    load_facilities({"name": "Clinique Nouvelle", "commune": "Lyon"}, {"name": "Clinique du Parc", "commune": "Lyon"})
    assert names(api.get(FACILITIES, {"q": "clinique"})) == ["Clinique du Parc", "Clinique Nouvelle"]


@pytest.mark.parametrize("url", [FACILITIES, MEDICINES])
def test_the_number_of_queries_does_not_grow_with_the_page(tenant_a, url):
    api = tenant_a.api()
    counts = []
    for size in (2, 40):
        load_facilities(*({"name": f"Clinique {n}", "commune": "Lyon"} for n in range(size)))
        load_medicines(*({"name": f"STATINE {n}", "atc5": "C10AA05"} for n in range(size)))
        api.get(url)  # the key's last use is written at most once a minute: not part of the count
        with CaptureQueriesContext(connection) as queries:
            response = api.get(url, {"page_size": "50", "q": "clinique" if url == FACILITIES else "statine"})
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[1] <= 12, counts


def test_the_api_root_links_the_directory(client):
    resources = client.get("/api/v1/").json()["resources"]
    assert resources["directory_facilities"].endswith(FACILITIES)
    assert resources["directory_medicines"].endswith(MEDICINES)


def test_through_the_real_importer_a_new_import_and_a_rollback_are_searched_at_once(tenant_a, tmp_path):
    from directory.services import ImportRequest, rollback, run_import

    from .conftest import FINESS_SAMPLE, sample_lines, write_lines

    api = tenant_a.api()
    assert run_import(request=ImportRequest(source="finess", file=FINESS_SAMPLE)).status == "succeeded"
    found = names(api.get(FACILITIES, {"q": "saint etienne", "page_size": "200"}))
    assert "CHU DE SAINT-ÉTIENNE HÔPITAL NORD" in found
    assert "CLINIQUE DU PARC FLEURI" not in names(api.get(FACILITIES, {"q": "clinique du parc"}))

    renamed = [line.replace("CLINIQUE DU PARC", "CLINIQUE DU PARC FLEURI") for line in sample_lines(FINESS_SAMPLE)]
    next_month = write_lines(tmp_path / "finess-next.csv", renamed)
    assert run_import(request=ImportRequest(source="finess", file=next_month)).status == "succeeded"
    assert "CLINIQUE DU PARC FLEURI" in names(api.get(FACILITIES, {"q": "clinique du parc"}))

    rollback(source="finess")
    assert "CLINIQUE DU PARC FLEURI" not in names(api.get(FACILITIES, {"q": "clinique du parc"}))


def test_each_row_is_answered_as_drf_would_serialize_the_model(tenant_a):
    """The serializers read the page's dicts through each field's own to_representation (serializers.py): the
    answer is what a plain ModelSerializer gives for the same rows (nulls, a list, decimals as strings)."""
    from decimal import Decimal

    from rest_framework import serializers

    from directory.models import Medicine
    from directory.search import facilities, medicines

    load_facilities(*ROWS, {"name": "Sans coordonnées", "commune": "Saint-Étienne", "services": ["dialyse", "SMUR"]})
    load_medicines({"name": "TAHOR 20MG CPR", "atc5": "C10AA05", "boxes": 9, "reimbursed_amount": Decimal("1234.5"),
                    "base_amount": Decimal("0.07"), "generic_group": "ATORVASTATINE 20 mg"})  # fmt: skip

    def plain(model, fields):
        meta = type("Meta", (), {"model": model, "fields": fields})
        return type("Plain", (serializers.ModelSerializer,), {"Meta": meta})

    current = {source: DirectorySource.objects.get(source=source).current_id for source in Source.values}
    api = tenant_a.api()
    answered = api.get(FACILITIES, {"q": "saint"}).json()["results"]
    assert len(answered) == 2
    for row in answered:
        facility = Facility.objects.get(dataset_id=current[Source.FINESS], finess=row["finess"])
        assert row == {**plain(Facility, facilities.FIELDS)(facility).data, "distance_km": None}
    [row] = api.get(MEDICINES, {"atc": "C10"}).json()["results"]
    medicine = Medicine.objects.get(dataset_id=current[Source.OPENMEDIC])
    assert row == plain(Medicine, medicines.FIELDS)(medicine).data
    assert row["reimbursed_amount"] == "1234.50" and row["boxes"] == 9
