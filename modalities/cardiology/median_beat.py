"""The median beat of a lead, and the noise that remains on it.

Intervals are measured on a median beat rather than beat by beat, as computerised 12-lead measurement programs
measure on a representative (median or averaged) complex (Kligfield et al., Circulation 2007;115:1306, part I
of the AHA/ACCF/HRS ECG standardisation): each beat from 40% of the median RR before its R peak to 60% after
it, aligned on the QRS, and the median taken sample by sample over the beats, premature beats left out.
Noise that is not locked to the beat shrinks on the median by about the square root of the number of beats;
waves that are not locked to the QRS (fibrillatory waves, P waves marching through a complete heart block)
vanish from it.

Noise. What differs from beat to beat is noise: the residual of each beat against the median, outside the QRS
(where a 2 ms misalignment of steep edges is not noise). Its robust standard deviation (1.4826 x median absolute
deviation) is the noise of one beat; the median of n beats keeps 1.2533 / sqrt(n) of it (the efficiency of the
sample median under Gaussian noise). The slope of the residuals (their smoothed absolute derivative, what
the QRS boundaries are read from) gets the same treatment: 1.4826 x its median.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .detect import slope

BEFORE_FRACTION = 0.4
ALIGN_S = 0.010
QRS_GUARD_S = 0.06  # the residual within 60 ms of the R peak is alignment, not noise
MEDIAN_EFFICIENCY = 1.2533


@dataclass
class MedianBeat:
    samples: object  # numpy array (mV), one cycle: ``r_index`` is the R peak
    r_index: int
    rr_samples: int
    beats: int
    beat_noise_mv: float  # noise of one beat (robust SD of the residuals)
    beat_slope_noise: float  # the same for the slope of the residuals (mV per sample), what QRS boundaries read

    @property
    def noise_mv(self) -> float:
        """The noise left on the median beat."""
        return MEDIAN_EFFICIENCY * self.beat_noise_mv / math.sqrt(self.beats)

    @property
    def slope_noise(self) -> float:
        """The noise left on the median beat's slope (mV per sample)."""
        return MEDIAN_EFFICIENCY * self.beat_slope_noise / math.sqrt(self.beats)


def build(cleaned, rpeaks, sampling_rate: float, *, exclude=()) -> MedianBeat | None:
    """The median beat over the R peaks not in ``exclude`` (indices); None with fewer than 3 such beats."""
    import numpy as np

    rpeaks = np.asarray(rpeaks, dtype=int)
    rr = int(round(float(np.median(np.diff(rpeaks)))))
    before = int(round(BEFORE_FRACTION * rr))
    after = rr - before
    excluded = set(exclude)
    chosen = [p for i, p in enumerate(rpeaks) if i not in excluded and p - before >= 0 and p + after <= len(cleaned)]
    if len(chosen) < 3:
        return None
    chosen = _aligned(cleaned, chosen, before, after, sampling_rate)
    stack = np.stack([cleaned[p - before : p + after] for p in chosen])
    median = np.median(stack, axis=0)
    # Level the cycle so its two ends meet: copies laid end to end (see ``intervals``) then join smoothly.
    edge = max(1, int(0.02 * sampling_rate))
    start, end = median[:edge].mean(), median[-edge:].mean()
    median = median - np.linspace(start, end, len(median))
    guard = int(QRS_GUARD_S * sampling_rate)
    outside = np.ones(rr, dtype=bool)
    outside[max(0, before - guard) : before + guard] = False
    residual = stack - np.median(stack, axis=0)
    slopes = np.stack([slope(row, sampling_rate) for row in residual])
    return MedianBeat(
        samples=median,
        r_index=before,
        rr_samples=rr,
        beats=len(chosen),
        beat_noise_mv=_robust_sd(residual[:, outside]),
        beat_slope_noise=1.4826 * float(np.median(slopes[:, outside])),
    )


def _aligned(cleaned, peaks, before: int, after: int, sampling_rate: float) -> list[int]:
    """The beats re-centred on the shift (within 10 ms) that best matches their QRS to the first median's: R
    peaks found on a low-passed copy of the lead wander by a sample or two, which would blur the median's QRS
    edges and count as noise."""
    import numpy as np

    reach = max(1, int(ALIGN_S * sampling_rate))
    guard = int(QRS_GUARD_S * sampling_rate)
    usable = [p for p in peaks if p - before - reach >= 0 and p + after + reach <= len(cleaned)]
    if len(usable) < 3:
        return list(peaks)
    template = np.median(np.stack([cleaned[p - guard : p + guard] for p in usable]), axis=0)
    shifted = []
    for peak in usable:
        errors = [
            np.sum((cleaned[peak + k - guard : peak + k + guard] - template) ** 2) for k in range(-reach, reach + 1)
        ]
        shifted.append(peak + int(np.argmin(errors)) - reach)
    return shifted


def _robust_sd(values) -> float:
    import numpy as np

    return 1.4826 * float(np.median(np.abs(values - np.median(values))))
