"""PostgreSQL: the indexes the search is built on serve it without the tables (index-only scans), as
directory migration 0005 made them: a key read (the key index holds the facility's id) and a search near a point
with a category (the location index holds the category, the department, the name's rank and the id). Sequential
and bitmap scans are turned off for the EXPLAIN: on the few rows of a test the planner would rather read the
table, which says nothing of the index."""

import json
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.search import facilities, keys, params
from directory.search.hits import current_dataset

from .search_data import load_facilities

pytestmark = pytest.mark.django_db


def _scans(sql: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if "Index Name" in node:
            found.add((node["Node Type"], node["Index Name"]))
        nodes.extend(node.get("Plans", []))
    return found


def _last_sql(run) -> str:
    with CaptureQueriesContext(connection) as captured:
        run()
    return captured.captured_queries[-1]["sql"]


@pytest.fixture
def dataset_id():
    load_facilities(
        {"name": "Clinique Sainte-Anne", "commune": "Lyon"},
        {"name": "Clinique du Parc", "commune": "Lyon"},
        {"name": "Hôpital Nord", "commune": "Saint-Étienne"},
    )
    return current_dataset("finess")


def test_a_key_read_is_an_index_only_scan_of_the_key_index(dataset_id):
    check = "SELECT true FROM directory_facility f WHERE f.id = k.facility_id"
    sql = _last_sql(lambda: keys.read(dataset_id, "sainte", 0, 10, None, check, []))
    assert ("Index Only Scan", "directory_facility_key_pkey") in _scans(sql)


def test_a_search_near_a_point_with_a_category_reads_the_location_index_alone():
    # Establishments spread over France in 20 categories, with statistics: a 20 km circle is the narrower index.
    rng = random.Random(5)
    load_facilities(*(
        {"name": f"Etablissement {n}", "commune": "Ville", "category_code": str(100 + n % 20),
         "latitude": rng.uniform(43.0, 50.0), "longitude": rng.uniform(-1.0, 7.0)}
        for n in range(3000)
    ))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE directory_facility")
    query = params.facility_query({"near": "45.76,4.84", "radius_km": "20", "category": "105"},
                                  known_categories=facilities.categories())  # fmt: skip
    dataset_id = current_dataset("finess")
    sql = _last_sql(lambda: facilities.ranked(query, dataset_id))
    assert ("Index Only Scan", "directory_fac_location") in _scans(sql)
