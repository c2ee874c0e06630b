"""Distances on the WGS 84 sphere: a bounding box an index can use, then the haversine distance.

The mean Earth radius (IUGG, 6371.0088 km) makes the haversine distance accurate to about 0.5 %, which is
ample for "within 25 km"."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(latitude: float, longitude: float, radius_km: float):
    """(min_lat, max_lat, min_lon, max_lon) holding every point within ``radius_km``; the longitude bounds
    are None when the circle reaches a pole or crosses the antimeridian (no longitude filter then)."""
    dlat = radius_km / _KM_PER_DEGREE_LATITUDE
    min_lat, max_lat = latitude - dlat, latitude + dlat
    if min_lat <= -90 or max_lat >= 90:
        return max(min_lat, -90.0), min(max_lat, 90.0), None, None
    # The widest point of the circle is nearer the pole than its centre: use the larger of the two cosines.
    cos_lat = min(math.cos(math.radians(min_lat)), math.cos(math.radians(max_lat)))
    dlon = radius_km / (_KM_PER_DEGREE_LATITUDE * cos_lat)
    min_lon, max_lon = longitude - dlon, longitude + dlon
    if min_lon < -180 or max_lon > 180:
        return min_lat, max_lat, None, None
    return min_lat, max_lat, min_lon, max_lon


# The same haversine in SQL, for PostgreSQL and for SQLite (where Django registers these math functions on
# each connection). Parameters: the centre's latitude, latitude again, longitude.
_HAVERSINE_TERM = (
    "SQRT(POWER(SIN(RADIANS(f.latitude - %s) / 2), 2) "
    "+ COS(RADIANS(%s)) * COS(RADIANS(f.latitude)) * POWER(SIN(RADIANS(f.longitude - %s) / 2), 2))"
)


def haversine_sql(vendor: str) -> str:
    # ASIN of a value that rounding puts above 1 is an error: clamp it (LEAST in PostgreSQL, MIN in SQLite).
    least = "LEAST" if vendor == "postgresql" else "MIN"
    return f"2 * {EARTH_RADIUS_KM} * ASIN({least}(1.0, {_HAVERSINE_TERM}))"
