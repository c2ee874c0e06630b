"""The voice-quality screening rule (sustained vowel only): MediLens's own rule on published thresholds.

Each of jitter (local) > 1.04 %, shimmer (local) > 3.81 % (the MDVP thresholds for pathology quoted in the Praat
manual, 'Voice 2. Jitter' and 'Voice 3. Shimmer') and HNR < 20 dB (after the Praat manual's 'Harmonicity': a
healthy sustained [a] reaches about 20 dB, hoarse voices much less) is one finding. The headline is the number
of findings, 0-3: 0 low, 1 borderline, 2 intermediate, 3 high. Counting findings is MediLens's screening
convention, not a validated disease-risk model, and gives no probability. A value equal to its threshold is
within the norm (MDVP gives the threshold as the limit of normal).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..results import BORDERLINE, HIGH, INTERMEDIATE, Contribution, RiskBands, Score, ScoreScale
from .catalogue import CATALOGUE, HNR_MIN_DB, JITTER_MAX_PERCENT, SHIMMER_MAX_PERCENT

SOURCE = (
    "MediLens screening rule on published thresholds: jitter (local) > 1.04 % and shimmer (local) > 3.81 % "
    "(MDVP thresholds for pathology quoted in the Praat manual, 'Voice 2. Jitter' and 'Voice 3. Shimmer'); "
    "HNR < 20 dB (Praat manual 'Harmonicity': a healthy sustained [a] around 20 dB, hoarse voices much lower); "
    "sustained /a/ as in Patel et al., Am J Speech Lang Pathol 2018;27:887"
)
SCALE = ScoreScale(
    key="voice_quality_findings",
    label="Voice-quality findings (MediLens screening rule)",
    unit="findings",
    minimum=0,
    maximum=3,
    source=SOURCE,
    own_rule=True,
    decimals=0,
    bands=RiskBands(
        ((1, BORDERLINE), (2, INTERMEDIATE), (3, HIGH)),
        source="MediLens screening rule: the number of findings among jitter, shimmer and HNR",
    ),
    note="The number of sustained-vowel measures beyond their norm; a screening count, not a probability.",
)


@dataclass(frozen=True)
class Threshold:
    name: str
    limit: float
    above: bool  # a finding lies above the limit (else below it)

    def beyond(self, value: float) -> bool:
        return value > self.limit if self.above else value < self.limit

    def label(self) -> str:
        spec = CATALOGUE[self.name]
        side = ">" if self.above else "<"
        return f"{spec.label.split(',')[0]} {side} {self.limit:g} {spec.unit}"


RULE = (
    Threshold("jitter_local", JITTER_MAX_PERCENT, above=True),
    Threshold("shimmer_local", SHIMMER_MAX_PERCENT, above=True),
    Threshold("hnr", HNR_MIN_DB, above=False),
)


def voice_quality(values: dict[str, float]) -> tuple[Score, str, list[Contribution]]:
    """(score, risk level, contributions) for the rounded sustained-vowel ``values`` of the three measures."""
    contributions = []
    for threshold in RULE:
        value = values[threshold.name]
        contributions.append(
            Contribution(
                factor=threshold.name,
                label=threshold.label(),
                change=1.0 if threshold.beyond(value) else 0.0,
                current=value,
                current_unit=CATALOGUE[threshold.name].unit,
                optimal=threshold.limit,
                source=CATALOGUE[threshold.name].source,
            )
        )
    findings = sum(int(item.change) for item in contributions)
    return Score(float(findings), SCALE), SCALE.bands.level(findings), contributions
