"""What an analysis returns, typed, and how it is stored.

Before this module an analyzer returned a free-form ``results`` dict whose conventions (``not_applicable``,
``notes``, ``headline_source``, ``*_derived``) the views and partners had to know by name, and a bare
``risk_score`` whose meaning changed from one modality to the next (a percentage, 20 x points, a rescaled
index). Now an analyzer returns typed parts:

- ``Score``: the headline number with its ``ScoreScale``: label, unit, bounds, source, whether the rule is
  MediLens's own, display precision, and the risk categories it is read in. Every place a score appears
  shows its label and unit.
- ``NotApplicable``: what could not be measured or computed, with the reason a clinician can read.
- ``Contribution``: what adds to the score, *in the score's own unit*.
- ``Measurement``: other numbers worth showing with the result (not stored as biomarkers).
- ``details``: the modality's own record of how it got there (for the API and later re-rendering).

``document()`` stores them as JSON with ``RESULT_SCHEMA_VERSION``, so a row written by an earlier analyzer
version can still be rendered after the analyzer changes (``assessments.presenters`` reads by version).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

RESULT_SCHEMA_VERSION = 2

# One vocabulary for every modality, in increasing order of concern. A modality may use a subset (radiology
# has one operating point: low or high), never another word.
LOW, BORDERLINE, INTERMEDIATE, HIGH = "low", "borderline", "intermediate", "high"
RISK_LEVELS = (LOW, BORDERLINE, INTERMEDIATE, HIGH)

# The flag a biomarker that *is* a score takes in each risk category. "low" risk is a normal finding; the
# flag "low" means "below the reference range" and would read as a warning.
FLAG_OF_LEVEL = {LOW: "normal", BORDERLINE: "borderline", INTERMEDIATE: "intermediate", HIGH: "high"}
LEVEL_OF_FLAG = {flag: level for level, flag in FLAG_OF_LEVEL.items()}


@dataclass(frozen=True)
class RiskBands:
    """Risk categories by lower bound: ``((5, "borderline"), (7.5, "intermediate"), (20, "high"))`` reads
    < 5 low, 5 to < 7.5 borderline, 7.5 to < 20 intermediate, >= 20 high. A bound belongs to the category it
    starts (the 2019 ACC/AHA guideline: "7.5% to <20%"), except for the levels named in ``above``, which
    start strictly above their bound (Stolz: "> 5.45 highly suspicious"). ``source`` names where the bounds
    come from."""

    starts: tuple[tuple[float, str], ...]
    source: str
    above: frozenset[str] = frozenset()

    def __post_init__(self):
        bounds = [bound for bound, _ in self.starts]
        levels = [level for _, level in self.starts]
        rising = all(level in RISK_LEVELS[1:] for level in levels) and levels == sorted(levels, key=RISK_LEVELS.index)
        if bounds != sorted(bounds) or not rising or len(set(levels)) != len(levels):
            raise ValueError(f"risk bands must rise through {RISK_LEVELS[1:]}: {self.starts}")

    def level(self, value: float) -> str:
        level = LOW
        for bound, name in self.starts:
            if value > bound or (value == bound and name not in self.above):
                level = name
        return level

    def describe(self, unit: str) -> str:
        """"< 5 % low, 5 to < 7.5 % borderline, ..." for pages and reports."""
        if not self.starts:
            return ""
        suffix = f" {unit}" if unit else ""
        first_bound, first_level = self.starts[0]
        parts = [f"{'<=' if first_level in self.above else '<'} {_plain(first_bound)}{suffix} low"]
        for (bound, name), following in zip(self.starts, [*self.starts[1:], None], strict=True):
            start = f"> {_plain(bound)}" if name in self.above else f">= {_plain(bound)}"
            if following is None:
                parts.append(f"{start}{suffix} {name}")
            else:
                end = f"<= {_plain(following[0])}" if following[1] in self.above else f"< {_plain(following[0])}"
                parts.append(f"{start} to {end}{suffix} {name}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ScoreScale:
    """What a headline number is. ``label`` names the score the way a clinician would ("10-year ASCVD risk
    (PCE)", "Stolz TDS"); ``unit`` is its unit ("%", "points"; "" for a dimensionless index is not allowed:
    say "index" or "points"). ``own_rule`` marks a screening rule that is MediLens's own rather than a
    published score, and the label or ``note`` says so. ``biomarker`` names the catalogue entry that stores
    the same number, whose flag must then follow the same risk categories (see ``AnalysisResult.check``)."""

    key: str
    label: str
    unit: str
    minimum: float
    maximum: float
    source: str
    own_rule: bool = False
    decimals: int = 1
    bands: RiskBands | None = None
    biomarker: str | None = None
    note: str = ""
    # The number is a probability of an outcome (a 10-year risk, a model's probability of an abnormal film),
    # in percent when ``unit`` is "%": FHIR's RiskAssessment states it as probabilityDecimal. Points, counts
    # and indices are not.
    probability: bool = False

    def __post_init__(self):
        if self.probability and not (self.minimum == 0 and self.maximum in (1, 100)):
            raise ValueError(f"score {self.key!r} is a probability: its bounds must be 0-1 or 0-100 (%)")
        if not self.unit:
            raise ValueError(f"score {self.key!r} has no unit: every score says what it is")
        if self.own_rule and "MediLens" not in f"{self.label} {self.note}":
            raise ValueError(f"score {self.key!r} is MediLens's own rule: its label or note must say so")

    def display(self, value: float | None) -> str:
        if value is None:
            return ""
        return f"{value:.{self.decimals}f}"


@dataclass(frozen=True)
class Score:
    value: float
    scale: ScoreScale

    def as_json(self) -> dict[str, Any]:
        scale = self.scale
        return {
            "key": scale.key,
            "value": round(self.value, scale.decimals),
            "label": scale.label,
            "unit": scale.unit,
            "minimum": scale.minimum,
            "maximum": scale.maximum,
            "source": scale.source,
            "own_rule": scale.own_rule,
            "decimals": scale.decimals,
            "bands": scale.bands.describe(scale.unit) if scale.bands else "",
            "biomarker": scale.biomarker,
            "note": scale.note,
            "probability": scale.probability,
        }


@dataclass(frozen=True)
class NotApplicable:
    """Something the analysis could not measure or compute, and why (a reason a clinician can read)."""

    name: str
    label: str
    reason: str


@dataclass(frozen=True)
class Contribution:
    """What one factor adds to the headline score, in the score's own unit: ``change`` is the score minus
    the score with this factor at ``optimal`` (others unchanged), or the points a rule gives a finding.
    ``current`` is the factor's value in ``current_unit``."""

    factor: str
    label: str
    change: float
    current: float | str | None = None
    current_unit: str = ""
    optimal: float | str | None = None
    source: str = ""


@dataclass(frozen=True)
class Measurement:
    """A number worth showing with the result that is not a stored biomarker (a recording's duration, the
    number of beats analysed). ``derived``: computed by MediLens rather than given (eGFR from creatinine)."""

    name: str
    label: str
    value: float | str
    unit: str = ""
    decimals: int = 1
    derived: bool = False


@dataclass(frozen=True)
class Artifact:
    """A file an analysis writes beside its numbers, kept per result version (e.g. the body scan's
    de-identified mesh). ``role`` says how the portal uses it: ``model`` (a 3D model, GLB), ``viewer`` (the
    GLB the portal's 3D viewer shows, e.g. the model with its measurement slices drawn on it), ``image``
    (a PNG, also the viewer's still fallback) or ``data`` (JSON). ``name`` is a file name without PHI."""

    name: str
    role: str
    content_type: str
    data: bytes
    label: str = ""

    ROLES = ("model", "viewer", "image", "data")

    def __post_init__(self):
        if self.role not in self.ROLES:
            raise ValueError(f"artifact role {self.role!r} is not one of {self.ROLES}")


def document(
    *,
    score: Score | None,
    score_withheld: str,
    measurements: list[Measurement],
    not_applicable: list[NotApplicable],
    notes: list[str],
    details: dict[str, Any],
) -> dict[str, Any]:
    """The JSON stored in ``Assessment.results`` (and returned by the API as ``results``)."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "score": score.as_json() if score else None,
        "score_withheld": "" if score else score_withheld,
        "measurements": [_json_safe(asdict(m)) for m in measurements],
        "not_applicable": [asdict(n) for n in not_applicable],
        "notes": [str(note) for note in notes],
        "details": _json_safe(details),
    }


def contribution_json(contributions: list[Contribution], decimals: int) -> list[dict[str, Any]]:
    """Stored in ``AIExplanation.contributions``, rounded to the score's precision; factors that change
    nothing are left out (they would read as "+0.0")."""
    rows = []
    for item in contributions:
        change = round(item.change, decimals)
        if change == 0:
            continue
        rows.append(_json_safe({**asdict(item), "change": change}))
    return rows


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _plain(number: float) -> str:
    return f"{number:g}"
