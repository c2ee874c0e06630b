"""Coordinates of FINESS geolocalisation records, converted to WGS 84 with pyproj.

Each record names its system at the end of `sourcecoordet`: older extractions write a token
("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93"), newer ones an EPSG code and name
("1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)"). Metropolitan France is in
Lambert-93 (EPSG:2154); the overseas departments in their UTM zones: 20N for Guadeloupe and
Martinique (RGAF09, EPSG:5490), 22N for Guyane (RGFG95, EPSG:2972), 40S for La Réunion (RGR92,
EPSG:2975), 38S for Mayotte (RGM04, EPSG:4471), 21N for Saint-Pierre-et-Miquelon (EPSG:32621).
"""

import math
import re
from functools import cache

from pyproj import CRS, Transformer

# The short names the records use, and the system each stands for.
SYSTEMS = {
    "LAMBERT_93": 2154,
    "UTM_N20": 5490,
    "UTM_N22": 2972,
    "UTM_S40": 2975,
    "UTM_S38": 4471,
    "UTM_N21": 32621,
}
_NAME_OF_CODE = {code: name for name, code in SYSTEMS.items()} | {4559: "UTM_N20", 32620: "UTM_N20"}
_EPSG = re.compile(r"EPSG:(\d{4,5})", re.IGNORECASE)
_UTM_ZONE = re.compile(r"UTM[ _]?zone[ _]?(\d{1,2})\s*([NS])", re.IGNORECASE)
# A point may lie this far (degrees) outside its system's published area of use (coastal, islands).
_AREA_MARGIN = 1.0


class CoordinateError(ValueError):
    def __init__(self, message: str, index: int = 0):
        super().__init__(message)
        self.index = index  # which point of a batch


def system_of(source: str) -> tuple[str, int] | None:
    """(short name, EPSG code) of the system a `sourcecoordet` value names, or None if it names none we know."""
    last = source.rsplit(",", 1)[-1].strip()
    if last.upper() in SYSTEMS:
        return last.upper(), SYSTEMS[last.upper()]
    if match := _EPSG.search(last):
        code = int(match.group(1))
        if code in _NAME_OF_CODE:
            return _NAME_OF_CODE[code], code
    if match := _UTM_ZONE.search(last):
        zone, hemisphere = int(match.group(1)), match.group(2).upper()
        name = f"UTM_{hemisphere}{zone}"
        return name, SYSTEMS.get(name, (32600 if hemisphere == "N" else 32700) + zone)
    return None


@cache
def _transformer(code: int) -> tuple[Transformer, tuple[float, float, float, float]]:
    area = CRS.from_epsg(code).area_of_use
    bounds = (area.west, area.south, area.east, area.north) if area else (-180.0, -90.0, 180.0, 90.0)
    return Transformer.from_crs(code, 4326, always_xy=True), bounds


def to_wgs84_many(xs: list[float], ys: list[float], code: int) -> list[tuple[float, float]]:
    """(latitude, longitude) in degrees of each point, converted in one call; CoordinateError (with the point's
    index) for the first point that is not where its system is used."""
    transformer, (west, south, east, north) = _transformer(code)
    longitudes, latitudes = transformer.transform(xs, ys)
    for index, (latitude, longitude) in enumerate(zip(latitudes, longitudes, strict=True)):
        x, y = xs[index], ys[index]
        if not (math.isfinite(latitude) and math.isfinite(longitude)):
            raise CoordinateError(f"({x}, {y}) has no position in EPSG:{code}", index)
        inside = (south - _AREA_MARGIN <= latitude <= north + _AREA_MARGIN) and (
            west - _AREA_MARGIN <= longitude <= east + _AREA_MARGIN
        )
        if not inside:
            raise CoordinateError(
                f"({x}, {y}) in EPSG:{code} is at latitude {latitude:.4f}, longitude {longitude:.4f}:"
                " outside the area that system covers",
                index,
            )
    return list(zip(latitudes, longitudes, strict=True))


def to_wgs84(x: float, y: float, code: int) -> tuple[float, float]:
    """(latitude, longitude) in degrees of one point; CoordinateError if it is not where its system is used."""
    return to_wgs84_many([x], [y], code)[0]
