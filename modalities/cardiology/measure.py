"""Measuring one ECG lead (with neurokit2: Makowski et al., NeuroKit2, Behav Res Methods 2021;53:1689-1696).

Steps, and the module that documents each one's method and sources:
    beats         ``detect``: polarity, cleaning, R peaks without a 300 ms limit (a 250 bpm rhythm is counted).
    heart rate    60 000 / mean RR (ms) over every detected beat: the ventricular rate.
    rhythm        ``rhythm``: premature beats separated, RR irregularity of the normal-to-normal intervals, and
                  for a regular rhythm a spectral cross-check of the rate (refused where they disagree).
    HRV           nk.hrv_time on the normal beats: SDNN, RMSSD, pNN50 as defined by the Task Force of the ESC and
                  NASPE, Circulation 1996;93:1043-1065. A 10 s ECG is an ultra-short recording: RMSSD from 10 s
                  agrees reasonably with the 5-minute value, SDNN and pNN50 much less (Munoz et al., PLoS One
                  2015;10:e0138921), so they are reported without reference ranges.
    intervals     ``median_beat`` and ``intervals``: PR, QRS and QT on the median beat, each withheld with its
                  reason when noise, a missing P wave or a P wave inside the T wave makes it unreliable.
    quality       nk.ecg_quality(method="templatematch"): the mean correlation of each beat with the average
                  beat (after Orphanidou et al., IEEE J Biomed Health Inform 2015;19:832-838, who accept an ECG
                  segment when this is at least 0.66).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

from ..base import AnalysisError
from . import detect, intervals, median_beat, rhythm

MAX_ANALYSIS_RATE_HZ = 1000
MIN_BEATS = 4
MIN_QUALITY = 0.66  # Orphanidou et al. 2015: minimum mean beat-to-template correlation of an acceptable ECG
PLAUSIBLE_HEART_RATE = (20, 250)


@dataclass
class LeadMeasurement:
    sampling_rate: float
    cleaned: object  # numpy array (mV), the analysed (possibly inverted and resampled) lead
    rpeaks: object  # numpy int array of sample indices into ``cleaned``
    inverted: bool
    rhythm: rhythm.Rhythm
    quality: float
    sdnn: float | None = None
    rmssd: float | None = None
    pnn50: float | None = None
    intervals: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    beat: median_beat.MedianBeat | None = None
    wave_heights_mv: dict[str, float] = field(default_factory=dict)
    qrs_onsets: object = None
    qrs_offsets: object = None

    @property
    def rr_ms(self) -> list[float]:
        return self.rhythm.rr_ms

    @property
    def heart_rate(self) -> float:
        return self.rhythm.heart_rate

    @property
    def nrmssd(self) -> float | None:
        return self.rhythm.nrmssd


def _neurokit():
    import neurokit2

    return neurokit2


def measure_lead(samples, sampling_rate: float, *, lead_name: str) -> LeadMeasurement:
    """Detect the beats, then measure heart rate, HRV and intervals (both steps below)."""
    measurement = detect_beats(samples, sampling_rate, lead_name=lead_name)
    measure_beats(measurement)
    return measurement


def detect_beats(samples, sampling_rate: float, *, lead_name: str) -> LeadMeasurement:
    """Cleaning, R peaks, rhythm and signal quality; AnalysisError when no rhythm can be read."""
    import numpy as np

    nk = _neurokit()
    signal = np.asarray(samples, dtype=float)
    rate = float(sampling_rate)
    if rate > MAX_ANALYSIS_RATE_HZ:
        # Above 1 kHz there is no timing to gain for these measurements, only time to lose.
        signal = nk.signal_resample(
            signal, sampling_rate=rate, desired_sampling_rate=MAX_ANALYSIS_RATE_HZ, method="poly"
        )
        rate = float(MAX_ANALYSIS_RATE_HZ)
    duration = len(signal) / rate
    cleaned, inverted = detect.clean(signal, rate)
    rpeaks = detect.r_peaks(cleaned, rate)
    if len(rpeaks) < MIN_BEATS:
        raise AnalysisError(
            f"Only {len(rpeaks)} heartbeat{'s' if len(rpeaks) != 1 else ''} found in lead {lead_name} over "
            f"{duration:.0f} s; at least {MIN_BEATS} are needed. The trace may be noise, or the electrodes off."
        )
    found = rhythm.analyse((np.diff(rpeaks) / rate * 1000.0).tolist())
    low, high = PLAUSIBLE_HEART_RATE
    if not low <= round(found.heart_rate) <= high:
        raise AnalysisError(
            f"The beats found in lead {lead_name} give a heart rate of {found.heart_rate:.0f} bpm, outside "
            f"{low}-{high} bpm: the detection is not trustworthy on this trace."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality_index = nk.ecg_quality(cleaned, rpeaks=rpeaks, sampling_rate=rate, method="templatematch")
    quality = float(np.nanmean(quality_index))
    if not math.isfinite(quality) or quality < MIN_QUALITY:
        raise AnalysisError(
            f"The ECG signal quality is too low to measure: the beats in lead {lead_name} correlate with their "
            f"average beat at {quality:.2f} on average, and 0.66 is the minimum for an acceptable ECG (Orphanidou "
            "et al. 2015). Check electrode contact and record again."
        )
    rhythm.cross_check(found, cleaned, rate, lead_name)
    return LeadMeasurement(
        sampling_rate=rate, cleaned=cleaned, rpeaks=rpeaks, inverted=inverted, rhythm=found, quality=quality
    )


def measure_beats(m: LeadMeasurement) -> None:
    """HRV (neurokit2's hrv_time on the normal beats) and the PR, QRS and QT intervals of the median beat."""
    import numpy as np

    nk = _neurokit()
    normal = np.delete(m.rpeaks, m.rhythm.ectopic_beats) if m.rhythm.ectopic_beats else m.rpeaks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hrv = nk.hrv_time(normal, sampling_rate=m.sampling_rate)
            m.sdnn, m.rmssd, m.pnn50 = (_finite(hrv[f"HRV_{name}"].iloc[0]) for name in ("SDNN", "RMSSD", "pNN50"))
        except Exception:  # too few beats for neurokit2's HRV: reported as not measured
            m.notes["hrv"] = "too few beats for heart-rate variability"
    m.qrs_onsets, m.qrs_offsets = intervals.qrs_boundaries(m.cleaned, m.rpeaks, m.sampling_rate)
    m.beat = median_beat.build(m.cleaned, m.rpeaks, m.sampling_rate, exclude=m.rhythm.ectopic_beats)
    measured = intervals.measure(m.beat, m.sampling_rate)
    m.wave_heights_mv = measured.wave_heights_mv
    m.intervals = measured.values
    m.notes.update(measured.reasons)
    if m.rhythm.irregular:
        m.intervals["pr_interval"] = None
        m.notes["pr_interval"] = (
            "the RR intervals are irregular (suspected atrial fibrillation): no organised P waves to measure from"
        )


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
