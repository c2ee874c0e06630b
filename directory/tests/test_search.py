"""Search ranking, accent folding, filters and distances on the database of the run: PostgreSQL in the
suite, SQLite (the embedded default) through test_search_sqlite.py, which runs this module again there.
Fuzzy matching exists on PostgreSQL only (SQLite has no trigram similarity): those tests say which."""

import os
import random
import re

import pytest
from django.core.cache import cache
from django.db import connection

from directory.models import Facility
from directory.search import facilities, keys, matching, medicines, params
from directory.search.hits import MAX_RESULTS

from .search_data import load_facilities, load_medicines

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    # SQLite reuses ids after a test's rollback, and ids key the cache and the commune values a process keeps
    # (keys.values_starting): start each test with neither (there the cache is a file cache in the run's own
    # directory; PostgreSQL never reuses an id within a session, and a Redis cache is shared: never cleared).
    if connection.vendor == "sqlite":
        cache.clear()
        keys.column_values.cache_clear()


def test_the_run_is_on_the_database_it_was_started_for():
    """test_search_sqlite.py sets DIRECTORY_TESTS_VENDOR=sqlite for its run; this one is PostgreSQL's."""
    assert connection.vendor == os.environ.get("DIRECTORY_TESTS_VENDOR", "postgresql")


def names_facilities(q="", **others) -> list[str]:
    query = params.facility_query({"q": q, **others}, known_categories=facilities.categories())
    hits = facilities.search(query)
    return [row["name"] for row in facilities.rows(hits, hits.ids, query)]


def names_medicines(q="", atc="") -> list[str]:
    hits = medicines.search(params.medicine_query({"q": q, "atc": atc}))
    return [row["name"] for row in medicines.rows(hits.ids)]


SAINT_ETIENNE = [
    {"name": "Hôpital Nord", "commune": "Saint-Étienne"},  # the commune starts with the query
    {"name": "SAINT-ÉTIENNE CLINIQUE MUTUALISTE", "commune": "Lyon"},  # the name starts with it
    {"name": "Clinique de Saint-Étienne du Rouvray", "commune": "Rouen"},  # its words start words of the name
    {"name": "Centre Léon Bérard", "commune": "Lyon"},
    {"name": "Clinique Saint-Jean", "commune": "Étienne-les-Bains"},  # both words, but not as a phrase
]


def test_accents_and_case_are_folded_both_ways():
    load_facilities(*SAINT_ETIENNE)
    for typed in ("saint etienne", "SAINT-ÉTIENNE", "Saint Étienne", "saint-etienne"):
        assert "Hôpital Nord" in names_facilities(typed), typed
    assert names_facilities("léon bérard") == names_facilities("LEON BERARD") == ["Centre Léon Bérard"]


def test_the_routing_lines_saint_abbreviation_is_found_both_ways():
    load_facilities({"name": "Clinique du Parc", "commune": "ST ETIENNE"}, {"name": "Hôpital", "commune": "Lyon"})
    assert names_facilities("saint etienne") == names_facilities("st etienne") == ["Clinique du Parc"]


def test_a_name_starting_with_the_query_ranks_first_then_a_commune_then_word_starts():
    load_facilities(*SAINT_ETIENNE)
    assert names_facilities("saint etienne") == [
        "SAINT-ÉTIENNE CLINIQUE MUTUALISTE",
        "Hôpital Nord",
        "Clinique de Saint-Étienne du Rouvray",
        "Clinique Saint-Jean",
    ]


def test_words_match_the_start_of_words_only():
    load_facilities(*SAINT_ETIENNE)
    assert names_facilities("sain etien")[:2] == ["SAINT-ÉTIENNE CLINIQUE MUTUALISTE", "Hôpital Nord"]
    assert "Centre Léon Bérard" in names_facilities("bera")
    assert "Centre Léon Bérard" not in names_facilities("rar")  # inside a word is not a start (nor near one)


def test_only_the_current_import_is_searched():
    load_facilities({"name": "Clinique Ancienne", "commune": "Lyon"})
    load_facilities({"name": "Clinique Nouvelle", "commune": "Lyon"})
    assert names_facilities("clinique") == ["Clinique Nouvelle"]
    assert Facility.objects.filter(name="Clinique Ancienne").exists()  # still there, for rollback


def test_category_and_department_filter():
    load_facilities(
        {"name": "CH de Roanne", "commune": "Roanne", "category_code": "355", "department_code": "42"},
        {"name": "CHU de Lyon", "commune": "Lyon", "category_code": "101", "department_code": "69"},
        {"name": "CH de Vienne", "commune": "Vienne", "category_code": "355", "department_code": "38"},
    )
    assert names_facilities(category="101") == ["CHU de Lyon"]
    assert names_facilities(category="101,355", department="38") == ["CH de Vienne"]
    assert names_facilities("ch", department="42") == ["CH de Roanne"]


def test_near_keeps_the_circle_and_sorts_by_distance():
    # Saint-Étienne town hall 45.4397,4.3872; Firminy ~9.5 km; Lyon ~50 km; Roanne ~70 km.
    load_facilities(
        {"name": "Lyon", "commune": "Lyon", "latitude": 45.7640, "longitude": 4.8357},
        {"name": "Firminy", "commune": "Firminy", "latitude": 45.3883, "longitude": 4.2889},
        {"name": "Centre-ville", "commune": "Saint-Étienne", "latitude": 45.4397, "longitude": 4.3872},
        {"name": "Roanne", "commune": "Roanne", "latitude": 46.0361, "longitude": 4.0680},
        {"name": "Sans coordonnées", "commune": "Saint-Étienne"},
    )
    assert names_facilities(near="45.4397,4.3872", radius_km="60") == ["Centre-ville", "Firminy", "Lyon"]
    assert names_facilities(near="45.4397,4.3872", radius_km="5") == ["Centre-ville"]
    query = params.facility_query({"near": "45.4397,4.3872", "radius_km": "60"}, known_categories={})
    hits = facilities.search(query)
    firminy = facilities.rows(hits, hits.ids, query)[1]
    # By hand, flat-earth over 10 km: 0.0514° north = 5.72 km, 0.0983° east x cos(45.41°) = 7.67 km: 9.57 km.
    assert 9.4 < firminy["distance_km"] < 9.7


def test_near_a_point_where_the_box_crosses_the_antimeridian_still_finds_by_distance():
    load_facilities(
        {"name": "East", "commune": "Fiji", "latitude": -17.0, "longitude": 179.9},
        {"name": "West", "commune": "Fiji", "latitude": -17.0, "longitude": -179.9},
    )
    assert names_facilities(near="-17.0,179.95", radius_km="50") == ["East", "West"]


def test_a_search_keeps_at_most_max_results_and_says_so():
    rows = [{"name": f"Clinique {n:04d}", "commune": "Lyon"} for n in range(MAX_RESULTS + 5)]
    load_facilities(*rows, {"name": "Hôpital Unique", "commune": "Lyon"})
    hits = facilities.search(params.facility_query({"q": "clinique"}, known_categories={}))
    assert len(hits.ids) == MAX_RESULTS and hits.limited
    narrow = facilities.search(params.facility_query({"q": "hopital"}, known_categories={}))
    assert len(narrow.ids) == 1 and not narrow.limited


def test_typos_are_matched_after_the_exact_prefix_matches_on_postgresql_only():
    load_facilities(
        {"name": "CHU Montpellier", "commune": "Montpellier"},
        {"name": "Clinique Montpelier Ouest", "commune": "Nîmes"},  # spelled as typed
    )
    found = names_facilities("montpelier")
    if connection.vendor == "postgresql":
        assert found == ["Clinique Montpelier Ouest", "CHU Montpellier"]
    else:
        assert found == ["Clinique Montpelier Ouest"]


MEDICINES = [
    {"name": "ATORVASTATINE ARROW 10MG CPR", "atc5": "C10AA05", "boxes": 500},
    {"name": "TAHOR 20MG CPR", "atc5": "C10AA05", "boxes": 900},
    {"name": "ROSUVASTATINE BIOGARAN 5MG CPR", "atc5": "C10AA07", "boxes": 700},
    {"name": "EZETROL 10MG CPR", "atc5": "C10AX09", "boxes": 300},
    {"name": "ÉLIQUIS 5MG CPR", "atc5": "B01AF02", "boxes": 800},
    {"name": "LÉVOTHYROX 50µG CPR", "atc5": "H03AA01", "boxes": 1000},
]


def test_an_atc_prefix_finds_its_class_most_dispensed_first():
    load_medicines(*MEDICINES)
    assert names_medicines(atc="C10AA") == [
        "TAHOR 20MG CPR", "ROSUVASTATINE BIOGARAN 5MG CPR", "ATORVASTATINE ARROW 10MG CPR",
    ]
    assert names_medicines(atc="c10") == names_medicines(atc="C10AA,C10AX")
    assert len(names_medicines(atc="C10")) == 4
    assert names_medicines(atc="B01A") == ["ÉLIQUIS 5MG CPR"]


def test_medicine_names_fold_accents_and_rank_name_starts_first():
    load_medicines(*MEDICINES)
    assert names_medicines("eliquis") == names_medicines("Éliquis") == ["ÉLIQUIS 5MG CPR"]
    assert names_medicines("levothyrox 50") == ["LÉVOTHYROX 50µG CPR"]
    assert names_medicines("atorva") == ["ATORVASTATINE ARROW 10MG CPR"]
    # Most dispensed first; "20mg" is not a near spelling of "10mg" (trigram similarity 0.25).
    assert names_medicines("10mg") == ["ATORVASTATINE ARROW 10MG CPR", "EZETROL 10MG CPR"]
    # "statine" starts no word: no match as typed. On PostgreSQL its nearest spelling among the data's words
    # is "atorvastatine" (6 shared trigrams of 8 + 14: 0.375, tied with "rosuvastatine", first by name).
    expected = ["ATORVASTATINE ARROW 10MG CPR"] if connection.vendor == "postgresql" else []
    assert names_medicines("statine") == expected


def test_no_import_yet_is_an_empty_answer():
    hits = facilities.search(params.facility_query({"q": "clinique"}, known_categories={}))
    assert hits.dataset_id is None and hits.ids == ()
    assert medicines.search(params.medicine_query({"atc": "C10"})).ids == ()


def test_a_postcode_is_located_at_the_centroid_of_its_establishments():
    load_facilities(
        {"name": "A", "commune": "Saint-Étienne", "postcode": "42000", "latitude": 45.40, "longitude": 4.30},
        {"name": "B", "commune": "Saint-Étienne", "postcode": "42000", "latitude": 45.50, "longitude": 4.50},
        {"name": "C", "commune": "Saint-Étienne", "postcode": "42000"},  # no coordinates: not counted
    )
    assert facilities.postcode_location("42000") == (45.45, 4.4)
    assert facilities.postcode_location("42 000") == (45.45, 4.4)
    assert facilities.postcode_location("99999") is None


def test_two_swapped_letters_are_forgiven_on_postgresql():
    # Trigram similarity of "clinqiue" and "clinique": 5 shared of 13, 0.38 (spelling.CORRECT is 0.3).
    load_facilities({"name": "Clinique du Parc", "commune": "Brive"}, {"name": "Hôpital du Lac", "commune": "Brive"})
    expected = ["Clinique du Parc"] if connection.vendor == "postgresql" else []
    assert names_facilities("clinqiue") == expected


# --- the ranking on many rows, against a ranking computed here ----------------------------------------------
_WORDS = ["le", "les", "saint", "sainte", "centre", "hospitalier", "pharmacie", "du", "parc", "pasteur", "clinique"]
_COMMUNES = ["le mans", "le havre", "les ulis", "saint etienne", "saint denis", "lyon", "pasteur sur loire", "parcay"]


def _ranked_here(rows, q: str) -> list[str]:
    """matching.py's ranking, computed in Python: the name starts with the query (its first word starts the name,
    the others start words after it, in order), then the commune does (by commune), then every word starts a
    word of the name or commune; by name and id within each."""
    words = q.split()
    starts = re.compile("^" + ".* ".join(re.escape(word) for word in words)).match

    def every_word_starts_a_word(text):
        return all(any(word.startswith(typed) for word in text.split()) for typed in words)

    first = sorted((row for row in rows if starts(row[1])), key=lambda row: (row[1], row[0]))
    second = sorted(
        (row for row in rows if not starts(row[1]) and starts(row[2])), key=lambda row: (row[2], row[1], row[0])
    )
    third = sorted(
        (row for row in rows if not starts(row[1]) and not starts(row[2]) and every_word_starts_a_word(
            f"{row[1]} {row[2]}")), key=lambda row: (row[1], row[0]))  # fmt: skip
    return [row[1] for row in [*first, *second, *third]]


def test_many_rows_rank_as_the_rule_says_whichever_index_reads_them(monkeypatch):
    """Words held by most rows: on PostgreSQL the word-start keys lead (keys.py; their thresholds made small
    here so that 400 rows exercise the batches, the walk's budget and the full-text finish after it)."""
    monkeypatch.setattr(keys, "FEW", 3)
    monkeypatch.setattr(keys, "WALK", 24)
    monkeypatch.setattr(keys, "FIRST_BATCH", 2)
    monkeypatch.setattr(keys, "MIN_BATCH", 1)  # batches sized by the pass rate, as small as it says
    monkeypatch.setattr(matching, "FUZZY_FILL", 0)  # near spellings would add rows after the rule's
    rng = random.Random(7)
    load_facilities(*(
        {"name": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))) + f" {n}",
         "commune": rng.choice(_COMMUNES)}
        for n in range(400)
    ))  # fmt: skip
    rows = list(Facility.objects.filter(dataset_id=facilities.current_dataset("finess"))
                .values_list("id", "name_folded", "commune_folded"))  # fmt: skip
    for q in ("le", "sain", "saint e", "le ha", "pharmacie du", "centre hosp", "pas", "du pa", "hospitalier",
              "les u", "clinique le", "parc", "clinique sainte", "sainte", "saint les", "le pasteu"):  # fmt: skip
        expected = _ranked_here(rows, q)
        assert len(expected) > 3, q  # the rule finds rows enough to test the order
        assert names_facilities(q) == expected[:MAX_RESULTS], q


def test_the_values_of_a_column_that_start_with_a_query_are_those_a_scan_would_find():
    """keys.values_starting finds them from the second word's positions (no scan of the first word's range): the
    same values, in the same order, as testing every value, on values made here."""
    rng = random.Random(11)
    words = ["saint", "sainte", "le", "les", "la", "mont", "montbeliard", "sur", "loire", "du", "lac"]
    values = {" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(3000)}
    found = keys._Values(values)
    for query in [("saint", "la"), ("le", "les"), ("le", "le"), ("sain", "l", "lo"), ("mont", "sur", "loire"),
                  ("la", "lac"), ("du", "x"), ("x", "le")]:  # fmt: skip
        pattern = re.compile("^" + ".* ".join(query))
        expected = sorted(value for value in values if pattern.match(value))
        assert list(found.starting(query)) == expected, query


def test_a_walk_reads_as_many_key_rows_as_its_pass_rate_says():
    assert matching._next_batch(128, walked=128, found=32, needed=170) == 850  # 170 at one in four, a quarter more
    assert matching._next_batch(128, walked=128, found=128, needed=3) == keys.MIN_BATCH
    assert matching._next_batch(128, walked=128, found=0, needed=201) == 512  # nothing passed yet: four times more


def test_a_page_of_rows_holds_what_the_orm_would_read():
    """hits.in_order reads a page with its own SQL and the ORM's converters: the same values as ``.values()``
    (JSON decoded, missing coordinates as None, decimals as Decimal), in the order asked, unknown ids left out."""
    from decimal import Decimal

    from directory.models import Medicine
    from directory.search.hits import in_order

    load_facilities(
        {"name": "Clinique", "commune": "Lyon", "services": ["dialyse"], "latitude": 45.7, "longitude": 4.8},
        {"name": "Sans coordonnées", "commune": "Lyon"},
    )
    load_medicines({"name": "TAHOR", "atc5": "C10AA05", "reimbursed_amount": Decimal("12.30"), "boxes": 4})
    for model, fields in ((Facility, facilities.FIELDS), (Medicine, medicines.FIELDS)):
        expected = {row.pop("id"): row for row in model.objects.values("id", *fields)}
        ids = sorted(expected, reverse=True)
        assert in_order(model, [*ids, 10**9], fields) == [expected[pk] for pk in ids]
    [tahor] = in_order(Medicine, list(Medicine.objects.values_list("id", flat=True)), medicines.FIELDS)
    assert tahor["reimbursed_amount"] == Decimal("12.30") and isinstance(tahor["reimbursed_amount"], Decimal)


def test_an_imports_search_rows_go_with_it_and_no_other():
    """keys.delete, as the import's clean-up calls it: the word-start keys (PostgreSQL) or the ranked FTS5 rows
    (SQLite, ranked_sqlite.py) of the deleted import go, another import's stay and are still searched."""
    from directory.models import FacilityKey
    from directory.search import ranked_sqlite

    first = load_facilities({"name": "Clinique du Parc", "commune": "Lyon"})
    second = load_facilities({"name": "Clinique du Lac", "commune": "Annecy"})

    def search_rows(dataset_id: int) -> int:
        if connection.vendor == "postgresql":
            return FacilityKey.objects.filter(dataset_id=dataset_id).count()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {ranked_sqlite.TABLE} WHERE rowid >= %s AND rowid < %s",  # noqa: S608
                           [dataset_id * ranked_sqlite.SPAN, (dataset_id + 1) * ranked_sqlite.SPAN])  # fmt: skip
            return cursor.fetchone()[0]

    assert search_rows(first.pk) > 0 and search_rows(second.pk) > 0
    keys.delete([first.pk])
    assert search_rows(first.pk) == 0 and search_rows(second.pk) > 0
    assert names_facilities("clinique du") == ["Clinique du Lac"]
