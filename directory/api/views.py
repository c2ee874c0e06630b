"""GET /api/v1/directory/facilities/ and /medicines/: the reference directory, read by every key of every
organization (global data; the key's organization scope is still entered, as for every API view)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers

from accounts.api import TenantAPIView
from directory.models import Source
from directory.search import facilities, medicines, params
from directory.search.hits import current_dataset

from .pagination import RankedCursor
from .serializers import FacilitySerializer, MedicineSerializer

_TEXT = {"type": "string", "maxLength": params.MAX_QUERY_LENGTH, "pattern": "^[^\\x00]*$"}
Q = OpenApiParameter(
    "q",
    _TEXT,
    description="Words that start words of the name (facilities: or of the commune), in any case, with or without "
    'accents ("saint etienne" finds Saint-Étienne). Rows whose name starts with the whole text come first. On '
    "PostgreSQL, near spellings follow when few rows match as typed.",
)
FACILITY_PARAMETERS = [
    Q,
    OpenApiParameter("category", str, description="FINESS category codes (e.g. 355), comma-separated."),
    OpenApiParameter("department", str, description="A department code: 01-95, 2A, 2B, 9A-9F, 971..."),
    OpenApiParameter("near", str, description="latitude,longitude (WGS 84 decimal degrees): nearest first."),
    OpenApiParameter(
        "radius_km",
        {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": params.MAX_RADIUS_KM},
        description=f"With near: how far, in km (default {params.DEFAULT_RADIUS_KM:g}).",
    ),
]
MEDICINE_PARAMETERS = [
    Q,
    OpenApiParameter(
        "atc", str, description="ATC codes or prefixes, comma-separated (C10AA: statins; B01A: antithrombotics)."
    ),
]


def _no_empty_filters(request, parameters) -> None:
    """As every filter of this API: a parameter given empty is a 400, not a silently unfiltered answer."""
    empty = {p.name: ["Empty: leave the parameter out or give a value."] for p in parameters
             if p.name in request.query_params and not request.query_params[p.name].strip()}
    if empty:
        raise serializers.ValidationError(empty)


class FacilityListView(TenantAPIView):
    required_permission = "directory.view"
    pagination_class = RankedCursor

    @extend_schema(
        description="Health establishments of the current FINESS import, best match first (nearest first with near).",
        parameters=FACILITY_PARAMETERS,
        responses=FacilitySerializer(many=True),
    )
    def get(self, request):
        _no_empty_filters(request, FACILITY_PARAMETERS)
        dataset_id = current_dataset(Source.FINESS)
        query = params.facility_query(request.query_params,
                                      known_categories=lambda: facilities.categories(dataset_id))  # fmt: skip
        hits = facilities.search(query, dataset_id)
        paginator = RankedCursor()
        ids = paginator.paginate_hits(hits, request)
        rows = facilities.rows(hits, ids, query)
        return paginator.get_paginated_response(FacilitySerializer(rows, many=True).data)


class MedicineListView(TenantAPIView):
    required_permission = "directory.view"
    pagination_class = RankedCursor

    @extend_schema(
        description="Reimbursed medicines (CIP13 presentations) of the current OpenMedic import, best match first, "
        "then the most dispensed.",
        parameters=MEDICINE_PARAMETERS,
        responses=MedicineSerializer(many=True),
    )
    def get(self, request):
        _no_empty_filters(request, MEDICINE_PARAMETERS)
        query = params.medicine_query(request.query_params)
        hits = medicines.search(query)
        paginator = RankedCursor()
        ids = paginator.paginate_hits(hits, request)
        return paginator.get_paginated_response(MedicineSerializer(medicines.rows(ids), many=True).data)
