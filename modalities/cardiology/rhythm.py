"""The rhythm of the detected beats: premature (ectopic) beats, RR irregularity without them, and a spectral
check of the heart rate.

Premature beats. A beat whose coupling interval (the RR ending at it) is at least 20% shorter than the median
RR is premature: the 20% criterion of Kamath & Fallen (in Malik & Camm, Heart Rate Variability, Futura 1995,
pp. 75-85), measured against the median RR rather than the previous one, so a premature beat never makes the
next normal beat look abnormal. The two RR intervals around a premature beat (its coupling interval and the
pause after it) are removed before the RR-irregularity measure, as in HRV analysis (Task Force of the ESC and
NASPE, Circulation 1996;93:1043: normal-to-normal intervals). Premature beats are separated from the rhythm
only while they are a minority (at most a third of the beats) and what remains is regular; otherwise the
rhythm is irregular as a whole and is judged on all its intervals (atrial fibrillation has many "premature"
beats; ventricular bigeminy is irregular and is flagged for a reader).

Irregularity. The normalised RMSSD (RMSSD / mean RR) of the normal-to-normal intervals, above 0.1 over at least
6 intervals: the RR-irregularity criterion of Dash et al. (Ann Biomed Eng 2009;37:1701).

Spectral rate. For a regular rhythm the heart rate from the beats is checked against the periodicity of the
QRS energy (the lead band-passed to 5-25 Hz, the QRS band of Pan & Tompkins 1985, rectified and smoothed over
40 ms): its power spectrum is a comb of harmonics of the heart rate, and the rate is the fundamental that best
separates the power at its harmonics from the power half-way between them (a harmonic comb, after the
subharmonic-summation idea of Hermes, J Acoust Soc Am 1988;83:257), moved up an octave while the octave keeps
40% of that contrast (half the rate scores nearly as well as the rate). A detector that counts only every other
beat, or counts T or P waves as beats, lands on a sub- or super-harmonic and disagrees by a third or more;
where the two differ by more than 10% (MediLens's own tolerance: on every regular test trace from 33 to 250
bpm, with and without 0.3 mV of noise, they agree within 0.5%) the analysis is refused with both numbers.
Irregular rhythms have no spectral line to check against and are not cross-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..base import AnalysisError
from . import formulas

PREMATURE_FRACTION = 0.8  # Kamath & Fallen's 20% criterion
MAX_ECTOPIC_SHARE = 1 / 3
AF_MIN_RR_INTERVALS = 6
AF_NRMSSD_THRESHOLD = 0.1  # Dash et al. 2009
SPECTRAL_TOLERANCE = 0.10  # MediLens's own, see above
SPECTRAL_RANGE_HZ = (0.4, 4.6)  # 24-276 bpm, around the plausible 20-250
SPECTRAL_MAX_HARMONIC_HZ = 15.0
SPECTRAL_HARMONICS = 8
OCTAVE_KEEP = 0.4


@dataclass
class Rhythm:
    rr_ms: list[float]
    heart_rate: float
    ectopic_beats: list[int] = field(default_factory=list)  # indices into the R peaks
    normal_rr_ms: list[float] = field(default_factory=list)
    nrmssd: float | None = None
    spectral_rate: float | None = None

    @property
    def judged(self) -> bool:
        """Enough normal-to-normal intervals to call the rhythm regular or irregular."""
        return self.nrmssd is not None and len(self.normal_rr_ms) >= AF_MIN_RR_INTERVALS

    @property
    def irregular(self) -> bool | None:
        return None if not self.judged else self.nrmssd > AF_NRMSSD_THRESHOLD

    @property
    def regular(self) -> bool:
        """Steady enough for a spectral line (also when too short to be judged for atrial fibrillation)."""
        return self.nrmssd is not None and self.nrmssd <= AF_NRMSSD_THRESHOLD


def premature_beats(rr_ms: list[float]) -> list[int]:
    """Indices (into the R peaks) of beats whose coupling interval is under 80% of the median RR."""
    import numpy as np

    if len(rr_ms) < 3:
        return []
    median = float(np.median(rr_ms))
    # rr_ms[i] ends at beat i + 1.
    return [i + 1 for i, rr in enumerate(rr_ms) if rr < PREMATURE_FRACTION * median]


def analyse(rr_ms: list[float]) -> Rhythm:
    """Heart rate over every beat; premature beats separated from the rhythm when they are a minority."""
    rhythm = Rhythm(rr_ms=list(rr_ms), heart_rate=formulas.heart_rate_bpm(rr_ms))
    premature = premature_beats(rr_ms)
    beats = len(rr_ms) + 1
    if premature and len(premature) <= MAX_ECTOPIC_SHARE * beats:
        around = {beat - 1 for beat in premature} | {beat for beat in premature}  # coupling interval and pause
        normal = [rr for i, rr in enumerate(rr_ms) if i not in around]
        if len(normal) >= 2 and formulas.normalised_rmssd(normal) <= AF_NRMSSD_THRESHOLD:
            rhythm.ectopic_beats = premature
            rhythm.normal_rr_ms = normal
            rhythm.nrmssd = formulas.normalised_rmssd(normal)
            return rhythm
    rhythm.normal_rr_ms = list(rr_ms)
    rhythm.nrmssd = formulas.normalised_rmssd(rr_ms) if len(rr_ms) >= 2 else None
    return rhythm


def spectral_rate(cleaned, sampling_rate: float) -> float | None:
    """The heart rate (bpm) read from the periodicity of the QRS energy; None on a trace too short for it."""
    import numpy as np
    import scipy.signal

    if len(cleaned) < 4 * sampling_rate:
        return None
    sos = scipy.signal.butter(3, [5.0, 25.0], btype="band", fs=sampling_rate, output="sos")
    envelope = np.abs(scipy.signal.sosfiltfilt(sos, cleaned))
    window = max(1, int(0.04 * sampling_rate))
    envelope = np.convolve(envelope, np.ones(window) / window, mode="same")
    envelope -= envelope.mean()
    size = 1 << max(16, math.ceil(math.log2(len(envelope))) + 2)
    power = np.abs(np.fft.rfft(envelope, size)) ** 2
    frequencies = np.fft.rfftfreq(size, 1.0 / sampling_rate)
    harmonics = np.arange(1, SPECTRAL_HARMONICS + 1)

    def contrast(candidates):
        on = np.outer(candidates, harmonics)
        usable = on <= SPECTRAL_MAX_HARMONIC_HZ
        peaks = np.interp(on, frequencies, power)
        between = np.interp(on - 0.5 * np.asarray(candidates)[:, None], frequencies, power)
        return ((peaks - between) * usable).sum(axis=1) / usable.sum(axis=1)

    grid = np.arange(*SPECTRAL_RANGE_HZ, 0.002)
    scores = contrast(grid)
    best = int(np.argmax(scores))
    # Half the rate scores nearly as well as the rate itself (every other harmonic is still a harmonic), so the
    # octave above the best is taken whenever it keeps 40% of its contrast; above the true rate the contrast
    # turns negative (the half-way points fall on harmonics).
    while grid[best] * 2 <= SPECTRAL_RANGE_HZ[1]:
        near = np.nonzero(np.abs(grid - 2 * grid[best]) <= 0.03 * 2 * grid[best])[0]
        octave = int(near[np.argmax(scores[near])])
        if scores[octave] < OCTAVE_KEEP * scores[best]:
            break
        best = octave
    return float(60.0 * grid[best])


def cross_check(rhythm: Rhythm, cleaned, sampling_rate: float, lead_name: str) -> None:
    """Refuse a regular rhythm whose beat count disagrees with its spectral rate (see the module's notes)."""
    if not rhythm.regular:
        return
    rhythm.spectral_rate = spectral_rate(cleaned, sampling_rate)
    if rhythm.spectral_rate is None:
        return
    if abs(rhythm.spectral_rate - rhythm.heart_rate) > SPECTRAL_TOLERANCE * rhythm.spectral_rate:
        raise AnalysisError(
            f"The heart rate cannot be measured reliably in lead {lead_name}: the beats found give "
            f"{rhythm.heart_rate:.0f} bpm, but the rhythm of the QRS complexes repeats at {rhythm.spectral_rate:.0f} "
            "bpm. Some beats were missed or other waves were counted as beats; read the rate from the tracing."
        )
