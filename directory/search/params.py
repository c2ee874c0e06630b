"""The search parameters, checked once for the API and the portal: each bad value is refused with its
reason under its own name ({"near": ["..."]}), never a silently different search."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from directory.text import fold

MAX_QUERY_LENGTH = 100
MAX_CODES = 10
DEFAULT_RADIUS_KM = 25.0
MAX_RADIUS_KM = 200.0
# FINESS department codes: 01-95, 2A/2B (Corsica), 9A-9F and 971-989 (overseas).
_DEPARTMENT = re.compile(r"^[0-9][0-9A-F][0-9]?$")
_CATEGORY = re.compile(r"^[0-9A-Z]{1,10}$")
# An ATC code or any of its level prefixes: A, A10, A10B, A10BA, A10BA02.
_ATC = re.compile(r"^[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float


@dataclass(frozen=True)
class FacilityQuery:
    words: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    department: str = ""
    near: Near | None = None

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class MedicineQuery:
    words: tuple[str, ...] = ()
    atc: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class _Errors:
    found: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.found.setdefault(name, []).append(message)

    def raise_any(self) -> None:
        if self.found:
            raise ValidationError(self.found)


def _text(params, name: str, errors: _Errors) -> str:
    value = params.get(name) or ""
    if "\x00" in value:
        errors.add(name, "Null characters are not allowed.")
        return ""
    return value.strip()


def _words(params, errors: _Errors) -> tuple[str, ...]:
    raw = _text(params, "q", errors)
    if len(raw) > MAX_QUERY_LENGTH:
        errors.add("q", f"q is {len(raw)} characters long: at most {MAX_QUERY_LENGTH}.")
        return ()
    folded = fold(raw)
    if raw and not folded:
        errors.add("q", "q must contain a letter or a digit.")
    return tuple(folded.split())


def _codes(params, name: str, pattern: re.Pattern, what: str, errors: _Errors) -> tuple[str, ...]:
    raw = _text(params, name, errors)
    codes = tuple(dict.fromkeys(code.strip().upper() for code in raw.split(",") if code.strip()))
    if len(codes) > MAX_CODES:
        errors.add(name, f"At most {MAX_CODES} {what}s, comma-separated.")
        return ()
    bad = [code for code in codes if not pattern.match(code)]
    if bad:
        errors.add(name, f"Not {what}: {', '.join(bad[:3])}.")
        return ()
    return codes


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _near(params, errors: _Errors) -> Near | None:
    raw_near = _text(params, "near", errors)
    raw_radius = _text(params, "radius_km", errors)
    if not raw_near:
        if raw_radius:
            errors.add("radius_km", "radius_km needs near=latitude,longitude.")
        return None
    parts = raw_near.split(",")
    coordinates = [_number(part.strip()) for part in parts] if len(parts) == 2 else [None]
    if None in coordinates:
        errors.add("near", "near must be latitude,longitude in decimal degrees (e.g. 45.4397,4.3872).")
        return None
    latitude, longitude = coordinates
    if not -90 <= latitude <= 90:
        errors.add("near", f"The latitude {latitude:g} is outside -90 to 90.")
    if not -180 <= longitude <= 180:
        errors.add("near", f"The longitude {longitude:g} is outside -180 to 180.")
    radius = DEFAULT_RADIUS_KM
    if raw_radius:
        radius = _number(raw_radius)
        if radius is None or not 0 < radius <= MAX_RADIUS_KM:
            errors.add("radius_km", f"radius_km must be a number of kilometres above 0 and at most {MAX_RADIUS_KM:g}.")
    if "near" in errors.found or "radius_km" in errors.found:
        return None
    return Near(latitude, longitude, radius)


def facility_query(params, *, known_categories) -> FacilityQuery:
    """``params``: a QueryDict or dict of strings. ``known_categories``: the category codes of the current
    facilities (a code that names none is refused: a typo must not look like "nothing here"), or a function
    that returns them, called only when the query names a category (the API: most searches name none)."""
    errors = _Errors()
    words = _words(params, errors)
    categories = _codes(params, "category", _CATEGORY, "a FINESS category code", errors)
    if categories and callable(known_categories):
        known_categories = known_categories()
    unknown = [code for code in categories if code not in known_categories]
    if unknown:
        errors.add(
            "category", f"Unknown category: {', '.join(unknown[:3])} (see the category codes of the facilities)."
        )
    departments = _codes(params, "department", _DEPARTMENT, "a department code (01-95, 2A, 2B, 971...)", errors)
    if len(departments) > 1:
        errors.add("department", "One department at a time.")
    near = _near(params, errors)
    errors.raise_any()
    return FacilityQuery(words, categories, departments[0] if departments else "", near)


def medicine_query(params) -> MedicineQuery:
    errors = _Errors()
    words = _words(params, errors)
    atc = _codes(params, "atc", _ATC, "an ATC code or prefix (C, C10, C10A, C10AA, C10AA05)", errors)
    errors.raise_any()
    return MedicineQuery(words, atc)
