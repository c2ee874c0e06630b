"""The chest X-ray score: the active model's probability of an abnormal film, read at its version's operating
point.

P(abnormal) = 1 - P(no_finding), from the model's softmax output (equal to the sum of its finding labels'
probabilities, so each finding's probability is its share of the score). The headline is P(abnormal) in %,
labelled with the model's name and version. The level is "high" when P(abnormal) reaches the version's decision
threshold (``validation_metrics["threshold"]``: the operating point at which its sensitivity and specificity
were measured), "low" below it: one operating point, two levels, no finer grading. A version that states no
threshold is read at 0.5, MediLens's own default, and the result says so. A model without a "no_finding" label
gives no score (its probabilities are still reported).

The score is computed from P(no_finding) as stored (4 decimals), so it is exact in 2 decimals of %, and the
level, the score's bands and the flag of P(no_finding) (flagged at 1 - threshold, ``decision_point_specs``) are
three readings of one comparison: they cannot disagree.

Confidence is None: softmax outputs are not calibrated probabilities unless shown to be (Guo et al., ICML 2017),
and no registered model reports a calibration measure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..base import BiomarkerSpec
from ..results import Contribution, RiskBands, Score, ScoreScale
from .catalogue import CATALOGUE, MODEL_LABELS, NORMAL_LABEL, probability_biomarker

DEFAULT_THRESHOLD = 0.5
REFERENCE_LABEL = "reference model, not for clinical use"
PROBABILITY_DECIMALS = CATALOGUE[probability_biomarker(NORMAL_LABEL)].decimals
SCORE_DECIMALS = 2  # 100 x a probability stored with 4 decimals


@dataclass(frozen=True)
class Reading:
    """The score of one film: P(abnormal) as stored and the operating point it is read at."""

    abnormal: float  # 0..1, 1 - P(no_finding) as stored
    threshold: float  # 0..1
    threshold_stated: bool  # False: the version states none and MediLens's default 0.5 is used
    scale: ScoreScale

    @property
    def score(self) -> Score:
        return Score(round(100.0 * self.abnormal, SCORE_DECIMALS), self.scale)

    @property
    def level(self) -> str:
        return self.scale.bands.level(self.score.value)


def threshold_of(validation_metrics: dict | None) -> tuple[float, bool]:
    """The version's stated decision threshold, or (0.5, False) when it states none (or nonsense)."""
    threshold = (validation_metrics or {}).get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        return DEFAULT_THRESHOLD, False
    return float(threshold), True


def scale(model_name: str, threshold: float, *, stated: bool, is_reference: bool) -> ScoreScale:
    """The headline's scale, built for the model version that produced it."""
    if stated:
        operating_point = (
            f"operating point of model {model_name}: P(abnormal) >= {threshold:g} (its validation metrics)"
        )
    else:
        operating_point = f"model {model_name} states no decision threshold: P(abnormal) >= 0.5, MediLens's own default"
    notes = []
    if is_reference:
        notes.append(
            f"Model {model_name} is a {REFERENCE_LABEL}: trained on synthetic images, it validates the pipeline only."
        )
    if not stated:
        notes.append("The model version states no decision threshold; MediLens reads it at 0.5, its own default.")
    return ScoreScale(
        key="p_abnormal",
        label=f"Probability of an abnormal film ({model_name})",
        unit="%",
        minimum=0,
        maximum=100,
        source=f"Softmax output of model {model_name}: 100 x (1 - P(no finding))",
        decimals=SCORE_DECIMALS,
        bands=RiskBands(((round(100.0 * threshold, SCORE_DECIMALS), "high"),), source=operating_point),
        note=" ".join(notes),
        probability=True,
    )


def read(probabilities: dict[str, float], version) -> Reading | None:
    """The score of this film by the documented rule (module docstring), or None without a "no_finding" output."""
    if NORMAL_LABEL not in probabilities:
        return None
    threshold, stated = threshold_of(version.validation_metrics)
    normal = min(max(round(probabilities[NORMAL_LABEL], PROBABILITY_DECIMALS), 0.0), 1.0)
    model_name = f"{version.name} {version.version}"
    return Reading(
        abnormal=round(1.0 - normal, PROBABILITY_DECIMALS),
        threshold=threshold,
        threshold_stated=stated,
        scale=scale(model_name, threshold, stated=stated, is_reference=bool(version.is_reference)),
    )


def decision_point_specs(reading: Reading | None) -> dict[str, BiomarkerSpec]:
    """P(no_finding) flagged at the version's own operating point: the level is "high" when P(abnormal) =
    1 - P(no_finding) >= threshold, so P(no_finding) <= 1 - threshold is "low" (and the stored range says
    1 - threshold), never a fixed 0.5 that would contradict the level."""
    if reading is None or reading.threshold == DEFAULT_THRESHOLD:
        return {}
    name = probability_biomarker(NORMAL_LABEL)
    return {
        name: dataclasses.replace(
            CATALOGUE[name],
            reference_low=round(1.0 - reading.threshold, PROBABILITY_DECIMALS),
            abnormal_at=frozenset({"reference_low"}),
        )
    }


def contributions(probabilities: dict[str, float], model_name: str) -> list[Contribution]:
    """Each finding's probability, in % of the score: with a softmax they add up to P(abnormal)."""
    rows = []
    for name, probability in sorted(probabilities.items(), key=lambda item: -item[1]):
        if name == NORMAL_LABEL:
            continue
        current = round(probability, PROBABILITY_DECIMALS)
        rows.append(
            Contribution(
                factor=probability_biomarker(name) if name in MODEL_LABELS else name,
                label=f"P({MODEL_LABELS.get(name, name.replace('_', ' ')).lower()})",
                change=round(100.0 * current, SCORE_DECIMALS),
                current=current,
                current_unit="probability",
                optimal=0.0,
                source=f"Model {model_name}",
            )
        )
    return rows


def explained_label(probabilities: dict[str, float]) -> str:
    """The label the heatmap explains: the most probable finding (not "no_finding"): the clinician's question is
    where the model sees something, including when it ends up below the threshold."""
    findings = {label: p for label, p in probabilities.items() if label != NORMAL_LABEL}
    candidates = findings or probabilities
    return max(candidates, key=lambda label: candidates[label])
