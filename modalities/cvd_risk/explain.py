"""The assessment's outcome in the typed result's words: what each modifiable factor adds to the headline
risk (in percentage points of that risk), what did not apply and why, and a summary a clinician reads."""

from __future__ import annotations

from modalities.results import Contribution, NotApplicable, ScoreScale

from .catalogue import CATALOGUE, MG_DL
from .rule import EQUATION_NAMES, CvdAssessment

# How the contributions' factors read, with the unit of their current value.
FACTORS = {
    "smoking": ("Current smoking", ""),
    "systolic_bp": (CATALOGUE["systolic_bp"].label, "mmHg"),
    "total_cholesterol": (CATALOGUE["total_cholesterol"].label, MG_DL),
    "hdl_cholesterol": (CATALOGUE["hdl_cholesterol"].label, MG_DL),
}
CONTRIBUTION_SOURCE = (
    "The headline equation recomputed with this factor at its optimal value, the others unchanged "
    "(optimal: SBP 120 mmHg, total cholesterol 170 mg/dL, HDL 50 mg/dL, non-smoker)"
)


def contributions(outcome: CvdAssessment) -> list[Contribution]:
    """Each factor's share of the headline risk: the risk minus the risk with that factor optimal, in
    percentage points (the score's own unit). A factor already optimal adds nothing and is left out."""
    rows = []
    for item in outcome.contributions:
        label, unit = FACTORS[item["factor"]]
        current, optimal = item["current_value"], item["optimal_value"]
        if isinstance(current, bool):
            current, optimal = ("yes" if current else "no"), ("yes" if optimal else "no")
        rows.append(
            Contribution(
                factor=item["factor"],
                label=label,
                change=item["contribution_points"],
                current=current,
                current_unit=unit,
                optimal=optimal,
                source=CONTRIBUTION_SOURCE,
            )
        )
    return rows


def not_applicable(outcome: CvdAssessment) -> list[NotApplicable]:
    return [NotApplicable(name, EQUATION_NAMES[name], why) for name, why in outcome.not_applicable.items()]


def summary(outcome: CvdAssessment, scale: ScoreScale, level: str) -> str:
    parts = [f"{scale.label}: {scale.display(outcome.risk_score)} {scale.unit} ({level} risk)."]
    adding = sorted(
        (c for c in contributions(outcome) if round(c.change, scale.decimals) > 0), key=lambda c: -c.change
    )
    if adding:
        top = ", ".join(f"{c.label.lower()} (+{c.change:.{scale.decimals}f} percentage points)" for c in adding[:3])
        parts.append(f"Modifiable factors adding most: {top}.")
    else:
        parts.append("No modifiable factor adds materially to this estimate.")
    return " ".join(parts)
