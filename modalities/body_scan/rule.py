"""The risk level of a body scan, from published thresholds only.

* Waist-to-height ratio (the headline): < 0.5 low, 0.5 to < 0.6 intermediate (increased cardiometabolic risk,
  Ashwell et al. Obes Rev 2012), >= 0.6 high ("take action", Ashwell & Gibson BMJ Open 2016).
* Waist-to-hip ratio >= 0.90 (men) or >= 0.85 (women): high (WHO 2008 expert consultation: "substantially increased
  risk of metabolic complications"). Where the record gives no sex, WHR is not read against a limit.

The risk level is the higher of the two. Taking the higher is how the two published thresholds are combined here,
and the score's note says so; neither source combines them.
"""

from __future__ import annotations

from ..results import HIGH, LOW, RISK_LEVELS, Score, ScoreScale
from .catalogue import ASHWELL_2012, ASHWELL_2016, WHO_2008, WHR_LIMITS, WHTR_BANDS

SCALE = ScoreScale(
    key="waist_to_height_ratio",
    label="Waist-to-height ratio (WHtR)",
    unit="ratio",
    minimum=0.0,
    maximum=2.0,
    source=f"{ASHWELL_2012} (>= 0.5 increased risk); {ASHWELL_2016} (>= 0.6 take action)",
    decimals=2,
    bands=WHTR_BANDS,
    biomarker="waist_to_height_ratio",
    note=(
        "Waist (WHO site) divided by standing height, both from the scan. The risk level is the higher of the WHtR "
        f"category and the waist-to-hip ratio's ({WHO_2008}: >= 0.90 men, >= 0.85 women: high)."
    ),
)


def assess(whtr: float, whr: float, sex_at_birth: str) -> tuple[Score, str, list[str]]:
    """(score, risk level, reasons) for the rounded ratios."""
    level = WHTR_BANDS.level(whtr)
    reasons = [f"WHtR {whtr:.2f}: {_whtr_words(level)} ({ASHWELL_2012})"]
    limit = WHR_LIMITS.get(sex_at_birth)
    if limit is None:
        reasons.append("WHR not read against a limit: the record gives no sex at birth (WHO 2008 limits are by sex)")
    elif whr >= limit:
        level = HIGH
        reasons.append(f"WHR {whr:.2f} >= {limit:.2f} ({sex_at_birth}): substantially increased risk (WHO 2008)")
    else:
        reasons.append(f"WHR {whr:.2f} < {limit:.2f} ({sex_at_birth}): below the WHO 2008 limit")
    if level not in RISK_LEVELS:  # pragma: no cover - the bands only name known levels
        level = LOW
    return Score(value=whtr, scale=SCALE), level, reasons


def _whtr_words(level: str) -> str:
    return {
        LOW: "below 0.5, no increased risk",
        "intermediate": "0.5 or more, increased cardiometabolic risk",
        HIGH: "0.6 or more, take action",
    }[level]
