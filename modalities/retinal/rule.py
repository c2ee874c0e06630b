"""The retinal screening rule: MediLens's own, on image measurements; a flag for review, **not a diagnosis**.

No validated rule maps these measures to a disease risk, and none of these thresholds comes from one:

* the photo must pass the quality gates (``quality``); a poor photo gets no score and a recommendation to
  retake it, because blur and poor exposure lower the measured density by themselves;
* tortuosity (mean arc/chord, ``measure``): below 1.10 adds 0, 1.10 up to 1.20 adds 25, 1.20 or more adds 50.
  A ratio of 1.10 is a sinusoid whose amplitude is a tenth of its wavelength; straight and gently curved
  vessels stay under it (the CC0 sample photo of a normal eye shipped with scikit-image measures 1.02). No
  publication gives a cut-off for this measure over a whole vessel tree, and the direction of its link with
  blood pressure is not settled: with a curvature-based measure, Cheung et al. (Ophthalmology 2011;118:812-818)
  found higher blood pressure with *less* tortuous arterioles and more tortuous venules, while Owen et al.
  (Arterioscler Thromb Vasc Biol 2011;31:1933-1938, children) found more tortuous arterioles with higher diastolic
  blood pressure; this method does not tell arterioles from venules. So a high value is a reason to look at the
  photograph, not a blood-pressure sign;
* vessel density: 8% or more adds 0, 5% up to 8% adds 25, under 5% adds 50 (the CC0 normal eye measures 11.9%;
  manual vessel maps of the DRIVE database cover about 12% of the field: Staal et al., IEEE Trans Med Imaging
  2004;23:501-509; the method's own segmentation differs from manual maps, so only a clearly lower value adds
  points);
* level: 0 low, 25 borderline, 50 intermediate, 75 or more high.
"""

from __future__ import annotations

from ..results import Contribution, RiskBands, ScoreScale
from .catalogue import OWN_RULE

# MediLens's own steps (see the module docstring): (threshold, points), first match wins.
TORTUOSITY_STEPS = ((1.20, 50), (1.10, 25))  # at or above
DENSITY_STEPS = ((5.0, 50), (8.0, 25))  # below
TORTUOSITY_OPTIMAL = "under 1.10"
DENSITY_OPTIMAL = "8 or more"

BANDS = RiskBands(
    ((25, "borderline"), (50, "intermediate"), (75, "high")),
    source="MediLens's own screening levels (0 low, 25 borderline, 50 intermediate, 75 or more high)",
)
SCALE = ScoreScale(
    key="retinal_screening_points",
    label="Retinal screening points (MediLens's own rule)",
    unit="points",
    minimum=0,
    maximum=100,
    source=(
        f"{OWN_RULE}: tortuosity (arc/chord) 1.10 to < 1.20 adds 25 and >= 1.20 adds 50; vessel density 5 to < 8 % "
        "adds 25 and < 5 % adds 50"
    ),
    own_rule=True,
    decimals=0,
    bands=BANDS,
    note=(
        "MediLens's own screening rule on image measurements, not a published score and not a diagnosis: a "
        "clinician should grade the photograph."
    ),
)


def _points(value: float | None, steps, *, below: bool) -> int:
    if value is None:
        return 0
    for threshold, points in steps:
        if (value < threshold) if below else (value >= threshold):
            return points
    return 0


def risk(*, density: float, tortuosity_mean: float | None) -> tuple[int, str, list[Contribution]]:
    """(points, level, what each measure adds in points). Quality gating is the caller's. Give it the values
    as stored (``modalities.base.rounded``), so that it scores the numbers the clinician sees."""
    tortuosity_points = _points(tortuosity_mean, TORTUOSITY_STEPS, below=False)
    density_points = _points(density, DENSITY_STEPS, below=True)
    score = tortuosity_points + density_points
    contributions = [
        Contribution(
            factor="vessel_tortuosity",
            label="Retinal vessel tortuosity (arc/chord)",
            change=tortuosity_points,
            current=tortuosity_mean,
            current_unit="ratio",
            optimal=TORTUOSITY_OPTIMAL,
            source="MediLens's own threshold (1.10 adds 25, 1.20 adds 50); measure: Hart et al. 1999",
        ),
        Contribution(
            factor="vessel_density",
            label="Retinal vessel density",
            change=density_points,
            current=density,
            current_unit="%",
            optimal=DENSITY_OPTIMAL,
            source="MediLens's own threshold (under 8 % adds 25, under 5 % adds 50)",
        ),
    ]
    return score, BANDS.level(score), contributions
