"""Facility search: words of the name or commune, categories, a department, and a circle around a point."""

from __future__ import annotations

from django.db import connection
from django.db.models import Avg, Count

from directory.models import Facility, Source

from . import cache, geo, ranked_sqlite
from .hits import MAX_RESULTS, Hits, current_dataset, in_order
from .matching import Conditions, Table, ranked_ids, text_order
from .params import FacilityQuery

FACILITIES = Table(
    name="directory_facility",
    fts=ranked_sqlite.TABLE,  # its rowids follow the names
    document="(f.name_folded || ' ' || f.commune_folded)",
    prefix_columns=("name_folded", "commune_folded"),
    keyed=True,
)
# What a page of results shows of each facility (the API's fields, and the portal's): rows() reads only these.
FIELDS = [
    "finess", "finess_legal", "name", "long_name", "category_code", "category_label", "address", "postcode",
    "commune_code", "commune", "department_code", "department_label", "region_code", "region_label", "phone",
    "latitude", "longitude", "services",
]  # fmt: skip


def _conditions(query: FacilityQuery) -> Conditions:
    conditions = Conditions()
    if query.categories:
        conditions.add(f"f.category_code IN ({', '.join(['%s'] * len(query.categories))})", *query.categories)
    if query.department:
        conditions.add("f.department_code = %s", query.department)
    if query.near:
        near = query.near
        min_lat, max_lat, min_lon, max_lon = geo.bounding_box(near.latitude, near.longitude, near.radius_km)
        conditions.add("f.latitude BETWEEN %s AND %s", min_lat, max_lat)
        if min_lon is not None:
            conditions.add("f.longitude BETWEEN %s AND %s", min_lon, max_lon)
        distance = geo.haversine_sql(connection.vendor)
        centre = [near.latitude, near.latitude, near.longitude]
        conditions.add(f"{distance} <= %s", *centre, near.radius_km)
        conditions.order.append(distance)
        conditions.order_params.extend(centre)
        # Equal distances in name order: the name's rank (keys.py, on both databases) is that order, and the
        # location index holds it, so the search reads that index alone (directory migrations 0005 and 0006).
        conditions.order.append("f.name_rank")
        return conditions
    conditions.order.append(text_order("f.name_folded"))
    return conditions


def ranked(query: FacilityQuery, dataset_id: int) -> list[int]:
    """The database's answer (no cache): ids of ``dataset_id`` matching ``query``, best first, one more than
    MAX_RESULTS at most (to tell a limited answer)."""
    return ranked_ids(
        FACILITIES, dataset_id=dataset_id, words=query.words, conditions=_conditions(query), limit=MAX_RESULTS + 1
    )


def search(query: FacilityQuery, dataset_id: int | None = None) -> Hits:
    """The current facilities matching ``query``, best first (see matching.py for the ranking; with
    ``near``, nearest first within a tier). ``dataset_id``: the current import, when the caller has just read it
    (``current_dataset``) for ``categories``: one read fewer, and both answers from the same import."""
    if dataset_id is None:
        dataset_id = current_dataset(Source.FINESS)
    if dataset_id is None:
        return Hits(None, (), False)
    return Hits.of(dataset_id, cache.remembered("facilities", dataset_id, query, lambda: ranked(query, dataset_id)))


def rows(hits: Hits, ids, query: FacilityQuery) -> list[dict]:
    """The facilities of ``ids`` (a page of ``hits``) as dicts of FIELDS, each with ``distance_km`` (None
    without ``near``)."""
    facilities = in_order(Facility, ids, FIELDS)
    for facility in facilities:
        facility["distance_km"] = None
        if query.near and facility["latitude"] is not None and facility["longitude"] is not None:
            facility["distance_km"] = round(
                geo.haversine_km(query.near.latitude, query.near.longitude, facility["latitude"],
                                 facility["longitude"]), 2,
            )  # fmt: skip
    return facilities


def categories(dataset_id: int | None = None) -> dict[str, str]:
    """Category code -> label of the current facilities (of ``dataset_id`` when given), by code (cached per
    import)."""
    if dataset_id is None:
        dataset_id = current_dataset(Source.FINESS)
    if dataset_id is None:
        return {}

    def compute():
        rows = (
            Facility.objects.filter(dataset_id=dataset_id)
            .exclude(category_code="")
            .values_list("category_code", "category_label")
            .annotate(n=Count("id"))
            .order_by("category_code")
        )
        return {code: label for code, label, _n in rows}

    return cache.remembered("categories", dataset_id, "all", compute)


def postcode_location(postcode: str) -> tuple[float, float] | None:
    """An approximate location for a postcode: the centroid of the current establishments with that
    postcode and coordinates (FINESS gives no postcode areas). None when none has."""
    postcode = (postcode or "").replace(" ", "").strip()
    dataset_id = current_dataset(Source.FINESS)
    if not postcode or dataset_id is None:
        return None
    centre = Facility.objects.filter(
        dataset_id=dataset_id, postcode=postcode, latitude__isnull=False, longitude__isnull=False
    ).aggregate(latitude=Avg("latitude"), longitude=Avg("longitude"))
    if centre["latitude"] is None:
        return None
    return round(centre["latitude"], 5), round(centre["longitude"], 5)
