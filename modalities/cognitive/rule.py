"""The screening rule (MediLens's own, not a validated score): marked findings in three domains -> a risk level.
See the package docstring for the thresholds and why "high" is never given."""

from __future__ import annotations

MARKED_DELAYED_RECALL_PERCENT = 20.0
MARKED_FORWARD_SPAN = 4
MARKED_LAPSE_FRACTION = 0.25
UNINTERPRETABLE_FALSE_START_FRACTION = 0.25

SCREENING_SOURCE = (
    "US Preventive Services Task Force, Screening for Cognitive Impairment in Older Adults, JAMA 2020;323:757"
)
ASSESSMENT_SOURCE = (
    "NICE guideline NG97 (2018), Dementia: assessment, section 1.2 Initial assessment in non-specialist settings"
)
DOMAIN_LABELS = {
    "memory": "memory (delayed recall)",
    "attention_span": "attention span (forward digit span)",
    "processing_speed": "processing speed and vigilance (reaction-time lapses)",
}
SCORE_WITHHELD = (
    "Not given: no validated composite score exists for this browser-administered battery. Each measure is "
    "read on its own, and the risk level counts marked findings (see the notes)."
)
RISK_RULE_NOTE = (
    "Risk level, MediLens's own screening rule (not a validated score): a marked finding is delayed recall of "
    f"{MARKED_DELAYED_RECALL_PERCENT:g}% of the list or less, a forward digit span of {MARKED_FORWARD_SPAN} or "
    f"less, or lapses in {MARKED_LAPSE_FRACTION:.0%} or more of the reaction-time trials (MediLens's thresholds, "
    "set far below how healthy adults perform); none is low, one borderline, two or three intermediate, never "
    "high: a brief unnormed screen cannot establish high risk."
)


def risk_from(domains: dict[str, bool | None]) -> str:
    """Marked findings -> level (see the module docstring). None = not interpretable, counted as no finding."""
    marked = sum(1 for flagged in domains.values() if flagged)
    if marked == 0:
        return "low"
    if marked == 1:
        return "borderline"
    return "intermediate"


def reaction_time_interpretable(rt: dict) -> bool:
    """Too many false starts (a quarter of the trials or more) make the reaction times uninterpretable."""
    return rt["false_starts"] / rt["trials"] < UNINTERPRETABLE_FALSE_START_FRACTION


def marked_domains(*, delayed_recall_percent: float, forward: dict, rt: dict) -> dict[str, bool | None]:
    """Each domain's marked finding: True, False, or None (not interpretable). The delayed recall is read as
    stored and shown (rounded)."""
    return {
        "memory": delayed_recall_percent <= MARKED_DELAYED_RECALL_PERCENT,
        "attention_span": forward["longest"] <= MARKED_FORWARD_SPAN,
        "processing_speed": (rt["lapses"] / rt["trials"] >= MARKED_LAPSE_FRACTION)
        if reaction_time_interpretable(rt)
        else None,
    }
