"""Closed-form ECG formulas, kept pure so they can be checked by hand.

* Bazett HC. An analysis of the time-relations of electrocardiograms. Heart 1920;7:353-370:
  QTc = QT / sqrt(RR), RR in seconds.
* Fridericia LS. Die Systolendauer im Elektrokardiogramm bei normalen Menschen und bei Herzkranken.
  Acta Med Scand 1920;53:469-486: QTc = QT / RR^(1/3), RR in seconds.
  Both return QTc in the unit QT is given in (ms here). Bazett over-corrects at fast rates and under-corrects
  at slow ones; Fridericia is the better of the two across rates (Vandenberk et al., J Am Heart Assoc
  2016;5:e003264), which is why the risk rule uses Fridericia. Both are reported.
* Normalised RMSSD (RMSSD / mean RR): the RR-irregularity index that Dash et al. (Ann Biomed Eng
  2009;37:1701-1709) threshold at 0.1 as one of their atrial-fibrillation criteria.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def qtc_bazett(*, qt_ms: float, rr_s: float) -> float:
    if rr_s <= 0:
        raise ValueError("RR must be positive")
    return qt_ms / math.sqrt(rr_s)


def qtc_fridericia(*, qt_ms: float, rr_s: float) -> float:
    if rr_s <= 0:
        raise ValueError("RR must be positive")
    return qt_ms / rr_s ** (1.0 / 3.0)


def normalised_rmssd(rr_ms: Sequence[float]) -> float:
    """Root mean square of successive RR differences divided by the mean RR (dimensionless)."""
    if len(rr_ms) < 2:
        raise ValueError("at least two RR intervals are needed")
    differences = [b - a for a, b in zip(rr_ms, rr_ms[1:], strict=False)]
    rmssd = math.sqrt(sum(d * d for d in differences) / len(differences))
    return rmssd / (sum(rr_ms) / len(rr_ms))


def heart_rate_bpm(rr_ms: Sequence[float]) -> float:
    """Mean heart rate from the mean RR interval (60 000 ms per minute / mean RR in ms)."""
    if not rr_ms:
        raise ValueError("no RR interval")
    return 60_000.0 / (sum(rr_ms) / len(rr_ms))
