"""The two scoring rules, pure functions of the measured (rounded) features, each with its source.

* **Stolz total dermoscopy score** (Stolz et al., Eur J Dermatol 1994;4:521; Nachbar et al., J Am Acad
  Dermatol 1994;30:551): TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D in points (a weighted sum of the criteria
  scores), 1.0 to 8.9; < 4.75 benign (risk level low), 4.75-5.45 suspicious (intermediate), > 5.45 highly
  suspicious of melanoma (high). Only for dermoscopy images with the clinician's count of dermoscopic
  structures (D: network, structureless areas, dots, globules, branched streaks); A, B and C are measured
  from the photo (``measurement``, with MediLens's own operating thresholds). The headline is the TDS
  itself, in TDS points, and each term's weighted points are its contribution.
* Otherwise the clinical **ABCD(E) checklist**, MediLens's own screening rule: A asymmetric about at least
  one axis, B irregularity index > 1.10, C 3 or more colours, D diameter > 6 mm (Friedman, Rigel & Kopf,
  CA Cancer J Clin 1985;35:130; evaluable only with a scale), E evolving (Abbasi et al., JAMA
  2004;292:2771; evaluable only with an earlier assessment of the lesion). The A, B, C and E thresholds and
  the bands are MediLens's own. The headline is the number of positive criteria (0-5; 1 point each): its
  bands (0 low, 1-2 intermediate, 3 or more high) are defined on that count, so the number and the level
  always read alike, which a share of evaluable criteria would not (2 of 3 and 2 of 5 are both
  "intermediate"; 3 of 5 is "high" at a lower share than 2 of 3). The number evaluable is reported beside it.

Either way an evolving lesion is at least "intermediate": change is the most important warning sign
(Abbasi 2004), so the level may sit above the category of the number itself, and a note says why. This is
a count of features that warrant a clinician's look, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results import HIGH, INTERMEDIATE, LOW, Contribution, RiskBands, Score, ScoreScale
from .catalogue import (
    ABBASI,
    AREA_GROWTH_PERCENT,
    COLOUR_ASYMMETRY_THRESHOLD,
    COLOUR_CRITERION,
    DIAMETER_CRITERION_MM,
    DIAMETER_GROWTH_MM,
    FRIEDMAN,
    IRREGULARITY_THRESHOLD,
    SHAPE_ASYMMETRY_THRESHOLD,
    STOLZ,
    TDS_BANDS,
    TDS_BENIGN_BELOW,
    TDS_SUSPICIOUS_UP_TO,
)
from .measurement import ABRUPT_WIDTH_FRACTION, COLOUR_SHARE

TDS_MIN = 1.0  # A 0, B 0, C 1, D 1
TDS_MAX = 8.9  # A 2, B 8, C 6, D 5
# (factor, criterion, weight, label, unit of the criterion's own score): Stolz's terms.
TDS_TERMS = (
    ("lesion_asymmetry_score", "A", 1.3, "Asymmetry (A, axes) x 1.3", "axes"),
    ("border_abrupt_segments", "B", 0.1, "Abrupt border segments (B) x 0.1", "segments"),
    ("colour_count", "C", 0.5, "Colours (C) x 0.5", "colours"),
    ("dermoscopic_structures", "D", 0.5, "Dermoscopic structures (D, counted by the clinician) x 0.5", "structures"),
)

TDS_SCALE = ScoreScale(
    key="stolz_tds",
    label="Stolz total dermoscopy score (TDS)",
    unit="points",
    minimum=TDS_MIN,
    maximum=TDS_MAX,
    source=STOLZ,
    decimals=1,
    bands=TDS_BANDS,
    biomarker="total_dermoscopy_score",
    note=(
        "TDS points = 1.3 A + 0.1 B + 0.5 C + 0.5 D. A, B and C are measured from the photo with MediLens's "
        f"own operating thresholds (an axis is asymmetric above shape index {SHAPE_ASYMMETRY_THRESHOLD:.2f} or "
        f"Delta E {COLOUR_ASYMMETRY_THRESHOLD:g} between its halves; a border segment is abrupt when its colour "
        f"rises from 20% to 80% within {ABRUPT_WIDTH_FRACTION:.0%} of the lesion's radius; a colour counts from "
        f"{COLOUR_SHARE:.0%} of the lesion); D is the clinician's count of dermoscopic structures. Not a diagnosis."
    ),
)


CHECKLIST_BANDS = RiskBands(
    ((1, INTERMEDIATE), (3, HIGH)),
    source="MediLens's own screening rule: any positive criterion warrants a clinician's look; 3 or more is high",
)
CHECKLIST_SCALE = ScoreScale(
    key="abcde_checklist",
    label="ABCD(E) checklist: positive criteria (MediLens thresholds)",
    unit="criteria",
    minimum=0,
    maximum=5,
    source=f"{FRIEDMAN}; {ABBASI}; the A, B, C and E thresholds and the bands are MediLens's own",
    own_rule=True,
    decimals=0,
    bands=CHECKLIST_BANDS,
    note=(
        "MediLens's own screening rule, not a validated score: 1 point for each positive criterion, 0-5. "
        "Thresholds that are MediLens's own: A asymmetric about at least one axis (shape index above "
        f"{SHAPE_ASYMMETRY_THRESHOLD:.2f} or Delta E above {COLOUR_ASYMMETRY_THRESHOLD:g} between its halves), B "
        f"border irregularity index above {IRREGULARITY_THRESHOLD:.2f}, C {COLOUR_CRITERION} or more colours, E "
        f"evolving since the earlier photo (diameter grown by more than {DIAMETER_GROWTH_MM:g} mm or area by more "
        f"than {AREA_GROWTH_PERCENT:g}%, a new colour, or more asymmetry). D, diameter above "
        f"{DIAMETER_CRITERION_MM:g} mm, is Friedman et al. 1985's. D is evaluable only with a scale, E only with "
        "an earlier photo of the lesion."
    ),
)


# --- the Stolz total dermoscopy score ---------------------------------------------------------------------
def total_dermoscopy_score(*, asymmetry: int, border: int, colours: int, structures: int) -> float:
    """TDS = 1.3 A + 0.1 B + 0.5 C + 0.5 D (Stolz 1994; Nachbar 1994), rounded to 2 decimals (every
    attainable value is a multiple of 0.1). A 0-2 asymmetric axes, B 0-8 abrupt border segments, C 1-6
    colours, D 1-5 dermoscopic structures."""
    for name, value, low, high in (
        ("asymmetry", asymmetry, 0, 2),
        ("border", border, 0, 8),
        ("colours", colours, 1, 6),
        ("structures", structures, 1, 5),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r})")
    return round(1.3 * asymmetry + 0.1 * border + 0.5 * colours + 0.5 * structures, 2)


def tds_category(tds: float) -> str:
    """Stolz's bands: < 4.75 benign, 4.75-5.45 suspicious, > 5.45 highly suspicious of melanoma."""
    if tds < TDS_BENIGN_BELOW:
        return "benign"
    if tds <= TDS_SUSPICIOUS_UP_TO:
        return "suspicious"
    return "highly suspicious"


def tds_risk(tds: float) -> tuple[float, str]:
    """(headline value, risk level) of a TDS: the TDS itself, in points, and Stolz's category as a level."""
    return tds, TDS_BANDS.level(tds)


def tds_withheld(image_type: str | None, structures: int | None) -> str | None:
    """Why the TDS does not apply to this photo, or None when it does."""
    if image_type != "dermoscopy":
        return "the Stolz TDS applies to dermoscopy images only"
    if structures is None:
        return "the Stolz TDS needs the clinician's count of dermoscopic structures (D); none was entered"
    return None


def tds_record(*, asymmetry: int, border: int, colours: int, structures: int) -> dict[str, Any]:
    """The TDS with its terms (C counts at least 1: a lesion has its own colour even when no reference
    colour reaches 5% of it)."""
    colours = max(1, colours)
    tds = total_dermoscopy_score(asymmetry=asymmetry, border=border, colours=colours, structures=structures)
    return {
        "status": "computed",
        "value": tds,
        "category": tds_category(tds),
        "A": asymmetry,
        "B": border,
        "C": colours,
        "D": structures,
        "D_source": "entered by the clinician",
        "thresholds": {"benign_below": TDS_BENIGN_BELOW, "suspicious_up_to": TDS_SUSPICIOUS_UP_TO},
    }


def tds_contributions(record: dict[str, Any]) -> list[Contribution]:
    """Each term's weighted points (1.3 A, 0.1 B, 0.5 C, 0.5 D): together they are the TDS."""
    return [
        Contribution(
            factor=factor,
            label=label,
            change=round(weight * record[key], 2),
            current=record[key],
            current_unit=unit,
            source=STOLZ,
        )
        for factor, key, weight, label, unit in TDS_TERMS
    ]


# --- the clinical ABCD(E) checklist ------------------------------------------------------------------------
def abcd_checklist(
    *, asymmetry_score: int, irregularity: float, colour_count: int, diameter_mm: float | None, evolving: bool | None
) -> dict[str, Any]:
    """The clinical ABCD(E) checklist: which criteria are evaluable and positive, and the rule's result
    (``risk_score`` = the number of positive criteria)."""
    criteria = [
        _criterion(
            "A", "lesion_asymmetry_score", asymmetry_score, "asymmetric about at least one axis", asymmetry_score >= 1
        ),
        _criterion(
            "B",
            "border_irregularity_index",
            round(irregularity, 3),
            f"irregularity index > {IRREGULARITY_THRESHOLD:.2f}",
            irregularity > IRREGULARITY_THRESHOLD,
        ),
        _criterion(
            "C", "colour_count", colour_count, f"{COLOUR_CRITERION} or more colours", colour_count >= COLOUR_CRITERION
        ),
        _criterion(
            "D",
            "lesion_diameter",
            None if diameter_mm is None else round(diameter_mm, 2),
            f"diameter > {DIAMETER_CRITERION_MM:g} mm",
            None if diameter_mm is None else diameter_mm > DIAMETER_CRITERION_MM,
        ),
        _criterion("E", "evolution", evolving, "evolving since the earlier photo of this lesion", evolving),
    ]
    evaluable = [c for c in criteria if c["positive"] is not None]
    positive = [c for c in evaluable if c["positive"]]
    return {
        "criteria": criteria,
        "evaluable": len(evaluable),
        "positive": len(positive),
        "risk_score": float(len(positive)),
        "risk_level": CHECKLIST_BANDS.level(len(positive)),
    }


def _criterion(letter: str, factor: str, value, rule: str, positive: bool | None) -> dict[str, Any]:
    return {"criterion": letter, "factor": factor, "value": value, "rule": rule, "positive": positive}


_CRITERION_UNITS = {"A": "axes", "B": "ratio", "C": "colours", "D": "mm", "E": ""}
_OWN = "threshold: MediLens's own, not a published cut-off"
_CRITERION_SOURCES = {
    "A": f"{STOLZ}; {_OWN}",
    "B": f"{FRIEDMAN}; {_OWN}",
    "C": f"{STOLZ} (colours); {_OWN}",
    "D": FRIEDMAN,
    "E": f"{ABBASI}; {_OWN}",
}


def checklist_contributions(checklist: dict[str, Any]) -> list[Contribution]:
    """1 point per positive criterion (an evaluable negative one adds 0 and is not shown)."""
    rows = []
    for criterion in checklist["criteria"]:
        if criterion["positive"] is None:
            continue
        value = criterion["value"]
        rows.append(
            Contribution(
                factor=criterion["factor"],
                label=f"{criterion['criterion']}: {criterion['rule']}",
                change=1.0 if criterion["positive"] else 0.0,
                current=("yes" if value else "no") if isinstance(value, bool) else value,
                current_unit=_CRITERION_UNITS[criterion["criterion"]],
                source=_CRITERION_SOURCES[criterion["criterion"]],
            )
        )
    return rows


# --- the headline ------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """The headline score, the risk level, what adds to the score and why the level is what it is."""

    score: Score
    level: str
    basis: str  # "total_dermoscopy_score" or "abcd_checklist"
    contributions: list[Contribution]
    notes: list[str] = field(default_factory=list)


def verdict(*, tds: dict[str, Any] | None, checklist: dict[str, Any], evolving: bool) -> Verdict:
    """The TDS when there is one, else the checklist; an evolving lesion is at least intermediate."""
    if tds is not None:
        value, level = tds_risk(tds["value"])
        result = Verdict(Score(value, TDS_SCALE), level, "total_dermoscopy_score", tds_contributions(tds))
    else:
        result = Verdict(
            Score(checklist["risk_score"], CHECKLIST_SCALE),
            checklist["risk_level"],
            "abcd_checklist",
            checklist_contributions(checklist),
        )
    if evolving and result.level == LOW:
        result.level = INTERMEDIATE
        result.notes.append(
            "The lesion has changed since its earlier photo: the risk level is raised to intermediate, above the "
            f"category of the {result.score.scale.label} alone, because change is the most important warning "
            "sign of melanoma (Abbasi et al., JAMA 2004)."
        )
    return result
