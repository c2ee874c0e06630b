"""Observation search parameters (FHIR R4 search, the part MediLens supports), parsed into filters.

Supported: ``patient`` (or ``subject``) as ``<id>`` or ``Patient/<id>``; ``code`` as ``system|code``,
``|code`` or ``code``, several separated by commas (any of them); ``date`` with the prefixes ``eq`` (the
default), ``ge``, ``gt``, ``le``, ``lt`` and a date or dateTime at any FHIR precision (YYYY, YYYY-MM,
YYYY-MM-DD, or a dateTime with its time zone), repeatable (all must hold); ``_count`` (1-200) and ``_offset``
for paging. Anything else is refused, as FHIR lets a server do, so a partner's filter is never silently
ignored: a search that ignored ``date`` would return more than was asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from . import codes

SUPPORTED = {"patient", "subject", "code", "date", "_count", "_offset", "_format"}
FORMATS = {"json", "application/json", "application/fhir+json"}
DEFAULT_COUNT, MAX_COUNT = 50, 200
_DATE = re.compile(r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<value>\d.*)$", re.ASCII)
_PARTIAL = re.compile(r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?$", re.ASCII)


class SearchError(ValueError):
    """A search MediLens cannot answer as asked: a 400 OperationOutcome naming the parameter."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(message)


@dataclass
class ObservationSearch:
    patient: str | None = None
    names: set[str] | None = None
    date_filters: list[dict] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    summary: dict = field(default_factory=dict)


def _one(query, name: str) -> str:
    values = query.getlist(name)
    if len(values) != 1:
        raise SearchError(name, f"Give {name} once.")
    return values[0]


def _patient(value: str) -> str:
    reference = value.removeprefix("Patient/")
    if not reference or "/" in reference:
        raise SearchError("patient", "patient must be a Patient id or a reference 'Patient/<id>'.")
    return reference


def _names(value: str) -> set[str]:
    names = set()
    for token in value.split(","):
        if not token:
            raise SearchError("code", "code has an empty entry: give system|code, |code or code.")
        system, bar, code = token.rpartition("|")
        if not code:
            raise SearchError("code", f"code {token!r} names no code: give system|code, |code or code.")
        names |= codes.names_for_code(system if bar and system else None, code)
    return names


def _bounds(value: str) -> tuple[datetime, datetime]:
    """The instant range a FHIR date or dateTime stands for: [start, end)."""
    partial = _PARTIAL.match(value)
    zone = timezone.get_current_timezone()
    try:
        if partial:
            year, month, day = int(partial["year"]), partial["month"], partial["day"]
            if day:
                start = date(year, int(month), int(day))
                return _midnight(start, zone), _midnight(start + timedelta(days=1), zone)
            if month:
                start = date(year, int(month), 1)
                following = date(year + (start.month == 12), start.month % 12 + 1, 1)
                return _midnight(start, zone), _midnight(following, zone)
            return _midnight(date(year, 1, 1), zone), _midnight(date(year + 1, 1, 1), zone)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        message = f"date {value!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) or dateTime."
        raise SearchError("date", message) from None
    if "T" not in value or moment.tzinfo is None:
        raise SearchError("date", f"date {value!r}: a dateTime needs its time zone (e.g. 2026-01-31T10:00:00Z).")
    resolution = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
    try:
        return moment.astimezone(UTC), moment.astimezone(UTC) + resolution
    except OverflowError:  # the first or last second of year 1 or 9999, moved by its offset
        raise SearchError("date", f"date {value!r} is out of range.") from None


def _midnight(day: date, zone) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _date_filter(value: str) -> dict:
    match = _DATE.match(value)
    if not match:
        raise SearchError("date", f"date {value!r} is not a FHIR date search value such as ge2026-01-31.")
    prefix = match["prefix"] or "eq"
    if prefix not in {"eq", "ge", "gt", "le", "lt"}:
        raise SearchError("date", f"date prefix {prefix!r} is not supported: use eq, ge, gt, le or lt.")
    start, end = _bounds(match["value"])
    return {
        "eq": {"measured_at__gte": start, "measured_at__lt": end},
        "ge": {"measured_at__gte": start},
        "gt": {"measured_at__gte": end},
        "le": {"measured_at__lt": end},
        "lt": {"measured_at__lt": start},
    }[prefix]


def _bounded(query, name: str, low: int, high: int, default: int) -> int:
    if name not in query:
        return default
    text = _one(query, name)
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise SearchError(name, f"{name} must be a whole number from {low} to {high}.")
    return int(text)


def parse_observation_search(query) -> ObservationSearch:
    """``query``: the request's QueryDict. Raises SearchError for anything it cannot honour."""
    unknown = sorted(set(query) - SUPPORTED)
    if unknown:
        supported = ", ".join(sorted(SUPPORTED - {"_format"}))
        raise SearchError(unknown[0], f"Unknown search parameter {unknown[0]!r}: Observation supports {supported}.")
    if any("\x00" in value for values in query.lists() for value in values[1]):
        raise SearchError("query", "Null characters are not allowed.")
    search = ObservationSearch()
    if "_format" in query and _one(query, "_format") not in FORMATS:
        raise SearchError("_format", "Only JSON is served: _format=json or application/fhir+json.")
    if "patient" in query and "subject" in query:
        raise SearchError("subject", "Give patient or subject, not both.")
    for name in ("patient", "subject"):
        if name in query:
            search.patient = _patient(_one(query, name))
            search.summary["patient"] = search.patient
    if "code" in query:
        # Commas within one parameter are alternatives; repeated parameters must all hold (FHIR search).
        sets = [_names(value) for value in query.getlist("code")]
        search.names = set.intersection(*sets)
        search.summary["code"] = query.getlist("code")
    search.date_filters = [_date_filter(value) for value in query.getlist("date")]
    if search.date_filters:
        search.summary["date"] = query.getlist("date")
    search.count = _bounded(query, "_count", 1, MAX_COUNT, DEFAULT_COUNT)
    search.offset = _bounded(query, "_offset", 0, 10**6, 0)
    return search
