"""E - evolution: the current measurements of a lesion against an earlier assessment of the same lesion.

Evolving (Abbasi et al., JAMA 2004;292:2771) is read here as: the diameter grown by more than 1 mm, or the
area by more than 25%, or a new colour, or a higher asymmetry score. These thresholds are MediLens's own
operating values, not published cut-offs. Sizes are compared in mm only: sizes in pixels depend on the
camera distance. The changes are rounded to their catalogue precision before the thresholds read them, so a
change shown as "1.0 mm" is never counted as growth of more than 1 mm.

The analyzer never queries the database, so the earlier measurements arrive as the resolved input
``previous`` = {assessment_id, measured_at, diameter_mm, area_mm2, diameter_px, area_px, colour_count,
asymmetry}, filled at submission from the patient's latest completed dermatology assessment with the same
``lesion_id`` (``previous_measurements()`` builds it from that assessment's biomarkers).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ..results import NotApplicable
from .catalogue import AREA_GROWTH_PERCENT, CATALOGUE, DIAMETER_GROWTH_MM

PREVIOUS_KEYS = {
    "assessment_id",
    "measured_at",
    "diameter_mm",
    "area_mm2",
    "diameter_px",
    "area_px",
    "colour_count",
    "asymmetry",
}
# What could not be compared, as the clinician reads it.
NOT_COMPARED_LABELS = {
    "size": ("lesion_diameter_change", "Size change since the earlier photo"),
    "colours": ("colour_count_change", "Colour change since the earlier photo"),
    "asymmetry": ("asymmetry_change", "Asymmetry change since the earlier photo"),
}


def previous_measurements(*, biomarkers: dict[str, float], measured_at, assessment_id=None) -> dict[str, Any]:
    """The ``previous`` input, built from an earlier dermatology assessment's biomarkers (name -> value)."""

    def number(name):
        value = biomarkers.get(name)
        return None if value is None else float(value)

    when = measured_at.isoformat() if hasattr(measured_at, "isoformat") else str(measured_at)
    colour_count = number("colour_count")
    asymmetry = number("lesion_asymmetry_score")
    return {
        "assessment_id": None if assessment_id is None else str(assessment_id),
        "measured_at": when,
        "diameter_mm": number("lesion_diameter"),
        "area_mm2": number("lesion_area"),
        "diameter_px": number("lesion_diameter_pixels"),
        "area_px": None,
        "colour_count": None if colour_count is None else int(colour_count),
        "asymmetry": None if asymmetry is None else int(asymmetry),
    }


def parse_when(value) -> datetime | None:
    """A date or date-time (ISO text or object) as an aware datetime; naive ones are taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def evolution(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Compare an earlier measurement of the same lesion with the current one (Abbasi 2004, "E").

    Both dicts use the keys of ``PREVIOUS_KEYS`` (any may be None). See the module docstring for what counts
    as evolving."""
    changes: list[str] = []
    not_compared: list[str] = []
    out: dict[str, Any] = {
        "compared_with": previous.get("assessment_id"),
        "previous_measured_at": previous.get("measured_at"),
        "interval_days": None,
    }
    before, now = parse_when(previous.get("measured_at")), parse_when(current.get("measured_at"))
    if before is not None and now is not None:
        out["interval_days"] = round((now - before).total_seconds() / 86400, 1)
    out.update(_size_changes(previous, current, changes, not_compared))
    out.update(_count_changes(previous, current, changes, not_compared))
    out["changes"] = changes
    out["not_compared"] = not_compared
    out["evolving"] = bool(changes)
    return out


def _size_changes(previous, current, changes: list[str], not_compared: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"diameter_change_mm": None, "area_change_percent": None}
    d0, d1 = previous.get("diameter_mm"), current.get("diameter_mm")
    if d0 is not None and d1 is not None:
        grown = round(d1 - d0, CATALOGUE["lesion_diameter_change"].decimals)
        out["diameter_change_mm"] = grown
        if grown > DIAMETER_GROWTH_MM:
            changes.append(f"diameter grew by {grown:.1f} mm ({d0:.1f} to {d1:.1f} mm)")
    a0, a1 = previous.get("area_mm2"), current.get("area_mm2")
    if a0 is not None and a1 is not None and a0 > 0:
        percent = round((a1 - a0) / a0 * 100, CATALOGUE["lesion_area_change"].decimals)
        out["area_change_percent"] = percent
        if percent > AREA_GROWTH_PERCENT:
            changes.append(f"area grew by {percent:.0f}% ({a0:.1f} to {a1:.1f} mm2)")
    if out["diameter_change_mm"] is None and out["area_change_percent"] is None:
        not_compared.append(
            "size: a scale (pixels per mm) is needed in both photos; sizes in pixels depend on camera distance"
        )
    return out


def _count_changes(previous, current, changes: list[str], not_compared: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"colour_count_change": None, "asymmetry_change": None}
    c0, c1 = previous.get("colour_count"), current.get("colour_count")
    if c0 is not None and c1 is not None:
        out["colour_count_change"] = int(c1 - c0)
        if c1 > c0:
            changes.append(f"colours went from {c0} to {c1}")
    else:
        not_compared.append("colours: not measured in both photos")
    s0, s1 = previous.get("asymmetry"), current.get("asymmetry")
    if s0 is not None and s1 is not None:
        out["asymmetry_change"] = int(s1 - s0)
        if s1 > s0:
            changes.append(f"asymmetry went from {s0} to {s1} axes")
    else:
        not_compared.append("asymmetry: not measured in both photos")
    return out


def not_compared(evolved: dict[str, Any] | None, *, lesion_id: str | None) -> list[NotApplicable]:
    """What E could not use: the whole comparison without an earlier photo, or the parts one photo lacks."""
    if evolved is None:
        reason = "No earlier assessment of this lesion to compare with" + (
            "." if lesion_id else " (give a lesion identifier to follow it over time)."
        )
        return [NotApplicable("evolution", "Evolution (E)", reason)]
    items = []
    for entry in evolved["not_compared"]:
        what, _, why = entry.partition(": ")
        name, label = NOT_COMPARED_LABELS[what]
        items.append(NotApplicable(name, label, why[:1].upper() + why[1:] + "."))
    return items
