"""Measuring one ECG lead with neurokit2 (Makowski et al., NeuroKit2, Behav Res Methods 2021;53:1689-1696).

Steps, and whose method each one is:
    polarity      nk.ecg_invert: a lead recorded upside down is turned upright before peak detection.
    clean         nk.ecg_clean(method="neurokit"): 0.5 Hz high-pass Butterworth (order 5) and a powerline notch.
    R-peaks       nk.ecg_peaks(method="neurokit"): QRS detection on the steepness of the cleaned signal. At slow
                  rates it can take a tall T wave for a beat (seen on synthetic traces at 40-60 bpm, where it
                  turns a regular rhythm into a short-long one); a detection whose steepest slope is under 40%
                  of the median detection's is dropped as not being a QRS complex (on the real Mortara record
                  every beat is at 80% or more of the median).
    heart rate    60 000 / mean RR (ms) over every detected beat.
    HRV           nk.hrv_time: SDNN, RMSSD, pNN50 as defined by the Task Force of the ESC and NASPE, Circulation
                  1996;93:1043-1065. A 10 s ECG is an ultra-short recording: RMSSD from 10 s agrees reasonably
                  with the 5-minute value, SDNN and pNN50 much less (Munoz et al., PLoS One 2015;10:e0138921),
                  so they are reported without reference ranges.
    P onset,      nk.ecg_delineate(method="dwt"), the wavelet delineator of Martinez et al. (IEEE Trans Biomed
    T offset      Eng 2004;51:570-581). On the real Mortara ELI 250 record that pydicom ships, its P onsets and T
                  offsets in lead II fall within 11 ms of the device's own per-beat annotations.
    QRS onset,    NOT neurokit2's: its R_Onsets/R_Offsets land on the P wave on real records (NeuroKit issues #761
    QRS offset    and #1042; on the Mortara record they give a 55 ms PR and a 206 ms QRS against the device's
                  161 ms and 75 ms). Here the QRS boundaries are found by slope thresholds on the smoothed
                  derivative, the classic approach of Laguna et al. (Comput Biomed Res 1994;27:45-60): from the
                  first and last points where the slope reaches 30% of the beat's steepest QRS slope, walk
                  outwards until the slope stays below 5% (onset) or 10% (offset) of it for 10 ms. On the
                  Mortara record this lands within 5 ms of the device's QRS onsets and offsets in lead II.
    intervals     per beat PR = QRS onset - P onset, QRS = offset - onset, QT = T offset - QRS onset; the median
                  over the beats where both ends were found is reported when at least half the beats (and at
                  least 3) have it; otherwise the interval is "not measured" with the reason. PR is also not
                  measured when the RR intervals suggest atrial fibrillation or the P onsets found wander from
                  beat to beat (interquartile range of the per-beat PR above 20 ms).
    quality       nk.ecg_quality(method="templatematch"): the mean correlation of each beat with the average
                  beat (after Orphanidou et al., IEEE J Biomed Health Inform 2015;19:832-838, who accept an ECG
                  segment when this is at least 0.66).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

from ..base import AnalysisError
from . import formulas

MAX_ANALYSIS_RATE_HZ = 1000
MIN_BEATS = 4
MIN_RELATIVE_QRS_SLOPE = 0.4
MIN_QUALITY = 0.66  # Orphanidou et al. 2015: minimum mean beat-to-template correlation of an acceptable ECG
PLAUSIBLE_HEART_RATE = (20, 250)

# QRS boundary thresholds (fractions of the beat's steepest QRS slope) and the derivative smoothing.
QRS_SEARCH_S = 0.15
QRS_STRONG = 0.30
QRS_WEAK_ONSET = 0.05
QRS_WEAK_OFFSET = 0.10
QRS_QUIET_S = 0.010
DERIVATIVE_SMOOTHING_S = 0.008
PR_MAX_IQR_MS = 20.0
# The atrial-fibrillation criterion of the risk rule (interpret): normalised RMSSD above 0.1 over 6+ RR intervals.
AF_MIN_RR_INTERVALS = 6
AF_NRMSSD_THRESHOLD = 0.1


@dataclass
class LeadMeasurement:
    sampling_rate: float
    cleaned: object  # numpy array (mV), the analysed (possibly inverted and resampled) lead
    rpeaks: object  # numpy int array of sample indices into ``cleaned``
    inverted: bool
    rr_ms: list[float]
    heart_rate: float
    sdnn: float | None
    rmssd: float | None
    pnn50: float | None
    nrmssd: float | None
    quality: float
    intervals: dict[str, float | None] = field(default_factory=dict)
    interval_beats: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    qrs_onsets: object = None
    qrs_offsets: object = None


def _neurokit():
    import neurokit2

    return neurokit2


def measure_lead(samples, sampling_rate: float, *, lead_name: str) -> LeadMeasurement:
    """Detect the beats, then measure heart rate, HRV and intervals (both steps below)."""
    measurement = detect_beats(samples, sampling_rate, lead_name=lead_name)
    measure_beats(measurement)
    return measurement


def detect_beats(samples, sampling_rate: float, *, lead_name: str) -> LeadMeasurement:
    """Polarity, cleaning, R-peaks, heart rate and signal quality; AnalysisError when no rhythm can be read."""
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        upright, inverted = nk.ecg_invert(signal, sampling_rate=rate)
        cleaned = np.asarray(nk.ecg_clean(upright, sampling_rate=rate, method="neurokit"), dtype=float)
        try:
            _, info = nk.ecg_peaks(cleaned, sampling_rate=rate, method="neurokit", correct_artifacts=False)
            rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
        except Exception:  # neurokit2 raises on traces with no usable QRS energy
            rpeaks = np.asarray([], dtype=int)
    rpeaks = drop_shallow_detections(cleaned, rpeaks, rate)
    if len(rpeaks) < MIN_BEATS:
        raise AnalysisError(
            f"Only {len(rpeaks)} heartbeat{'s' if len(rpeaks) != 1 else ''} found in lead {lead_name} over "
            f"{duration:.0f} s; at least {MIN_BEATS} are needed. The trace may be noise, or the electrodes off."
        )
    rr_ms = (np.diff(rpeaks) / rate * 1000.0).tolist()
    heart_rate = formulas.heart_rate_bpm(rr_ms)
    low, high = PLAUSIBLE_HEART_RATE
    if not low <= heart_rate <= high:
        raise AnalysisError(
            f"The beats found in lead {lead_name} give a heart rate of {heart_rate:.0f} bpm, outside {low}-{high} "
            "bpm: the detection is not trustworthy on this trace."
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
    return LeadMeasurement(
        sampling_rate=rate,
        cleaned=cleaned,
        rpeaks=rpeaks,
        inverted=bool(inverted),
        rr_ms=rr_ms,
        heart_rate=heart_rate,
        sdnn=None,
        rmssd=None,
        pnn50=None,
        nrmssd=formulas.normalised_rmssd(rr_ms) if len(rr_ms) >= 2 else None,
        quality=quality,
    )


def measure_beats(m: LeadMeasurement) -> None:
    """HRV (neurokit2's hrv_time) and the PR, QRS and QT intervals of the detected beats."""
    nk = _neurokit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hrv = nk.hrv_time(m.rpeaks, sampling_rate=m.sampling_rate)
            m.sdnn, m.rmssd, m.pnn50 = (_finite(hrv[f"HRV_{name}"].iloc[0]) for name in ("SDNN", "RMSSD", "pNN50"))
        except Exception:  # too few beats for neurokit2's HRV: reported as not measured
            m.notes["hrv"] = "neurokit2 could not compute HRV from these beats"
    _measure_intervals(m)


def drop_shallow_detections(cleaned, rpeaks, sampling_rate: float):
    """Keep the detections whose steepest slope (within 60 ms) is at least 40% of the median detection's."""
    import numpy as np

    if len(rpeaks) < 3:
        return rpeaks
    window = max(1, int(round(DERIVATIVE_SMOOTHING_S * sampling_rate)))
    slope = np.abs(np.gradient(np.convolve(cleaned, np.ones(window) / window, mode="same")))
    reach = int(0.06 * sampling_rate)
    steepest = np.asarray([slope[max(0, p - reach) : p + reach + 1].max() for p in rpeaks])
    return rpeaks[steepest >= MIN_RELATIVE_QRS_SLOPE * np.median(steepest)]


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def qrs_boundaries(cleaned, rpeaks, sampling_rate: float):
    """QRS onset and offset (sample indices, NaN where not found) of each beat by slope thresholds."""
    import numpy as np

    window = max(1, int(round(DERIVATIVE_SMOOTHING_S * sampling_rate)))
    smoothed = np.convolve(cleaned, np.ones(window) / window, mode="same")
    slope = np.abs(np.gradient(smoothed))
    quiet = max(1, int(round(QRS_QUIET_S * sampling_rate)))
    reach = int(QRS_SEARCH_S * sampling_rate)
    onsets, offsets = [], []
    for peak in rpeaks:
        low, high = max(1, peak - reach), min(len(cleaned) - 1, peak + reach)
        segment = slope[low:high]
        steepest = float(segment.max()) if len(segment) else 0.0
        if steepest <= 0:
            onsets.append(np.nan)
            offsets.append(np.nan)
            continue
        strong = np.nonzero(segment >= QRS_STRONG * steepest)[0]
        onsets.append(_walk(slope, strong[0] + low, -1, low, QRS_WEAK_ONSET * steepest, quiet))
        offsets.append(_walk(slope, strong[-1] + low, +1, high, QRS_WEAK_OFFSET * steepest, quiet))
    return np.asarray(onsets, dtype=float), np.asarray(offsets, dtype=float)


def _walk(slope, start: int, step: int, limit: int, threshold: float, quiet: int) -> float:
    """From ``start``, move by ``step`` until the slope has stayed under ``threshold`` for ``quiet`` samples;
    return where that quiet stretch began (NaN if the search window ends first)."""
    position, calm = start, 0
    while position != limit:
        calm = calm + 1 if slope[position] < threshold else 0
        if calm >= quiet:
            return float(position - step * (quiet - 1))
        position += step
    return math.nan


def _nearest(events, anchors, low, high, *, latest: bool):
    """For each anchor, the latest (or earliest) event within [anchor + low, anchor + high] (NaN if none)."""
    import numpy as np

    events = np.asarray([e for e in events if e is not None and np.isfinite(e)], dtype=float)
    result = []
    for anchor, lo, hi in zip(
        anchors, np.broadcast_to(low, len(anchors)), np.broadcast_to(high, len(anchors)), strict=True
    ):
        if not np.isfinite(anchor):
            result.append(np.nan)
            continue
        inside = events[(events >= anchor + lo) & (events <= anchor + hi)]
        result.append((inside.max() if latest else inside.min()) if len(inside) else np.nan)
    return np.asarray(result, dtype=float)


def _measure_intervals(m: LeadMeasurement) -> None:
    import numpy as np

    nk = _neurokit()
    rate = m.sampling_rate
    onsets, offsets = qrs_boundaries(m.cleaned, m.rpeaks, rate)
    m.qrs_onsets, m.qrs_offsets = onsets, offsets
    p_onsets = t_offsets = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, waves = nk.ecg_delineate(m.cleaned, m.rpeaks, sampling_rate=rate, method="dwt")
            p_onsets, t_offsets = waves.get("ECG_P_Onsets") or [], waves.get("ECG_T_Offsets") or []
        except Exception:  # the wavelet delineator fails on some short or odd traces
            m.notes["delineation"] = "neurokit2's wavelet delineation failed on this trace"
    ms = rate / 1000.0
    beats = len(m.rpeaks)
    per_beat = {"qrs_duration": (offsets - onsets) / ms}
    if p_onsets is not None:
        p = _nearest(p_onsets, onsets, -400 * ms, -40 * ms, latest=True)
        next_r = np.append(m.rpeaks[1:], len(m.cleaned)).astype(float)
        t_high = np.minimum(onsets + 700 * ms, next_r) - onsets
        t = _nearest(t_offsets, onsets, 0, t_high, latest=False)
        t[t < offsets + 80 * ms] = np.nan
        per_beat["pr_interval"] = (onsets - p) / ms
        per_beat["qt_interval"] = (t - onsets) / ms
    needed = max(3, math.ceil(beats / 2))
    why = {
        "pr_interval": "P waves were not found before most beats (as in atrial fibrillation, or a noisy baseline)",
        "qrs_duration": "QRS boundaries were not found in most beats",
        "qt_interval": "the end of the T wave was not found in most beats",
    }
    for name in ("pr_interval", "qrs_duration", "qt_interval"):
        values = per_beat.get(name)
        valid = values[np.isfinite(values)] if values is not None else np.asarray([])
        m.interval_beats[name] = int(len(valid))
        m.intervals[name] = None
        if len(valid) < needed:
            m.notes[name] = m.notes.get("delineation") or f"{why[name]} ({len(valid)} of {beats} beats)"
        elif name == "pr_interval" and (reason := _pr_not_defined(m, valid)):
            m.notes[name] = reason
        else:
            m.intervals[name] = float(np.median(valid))


def _pr_not_defined(m: LeadMeasurement, pr_ms) -> str | None:
    """A PR interval needs P waves that conduct: none when the RR intervals are irregular enough to suggest
    atrial fibrillation, and none when the "P onsets" found wander from beat to beat. In sinus rhythm the PR is
    nearly constant (interquartile range at most 8.5 ms on every sinus test trace here, 3 ms on the real
    Mortara record), while onsets picked out of fibrillatory waves scatter (76-96 ms on synthetic AF)."""
    import numpy as np

    if m.nrmssd is not None and len(m.rr_ms) >= AF_MIN_RR_INTERVALS and m.nrmssd > AF_NRMSSD_THRESHOLD:
        return "the RR intervals are irregular (suspected atrial fibrillation): no organised P waves to measure from"
    spread = float(np.subtract(*np.percentile(pr_ms, [75, 25])))
    if spread > PR_MAX_IQR_MS:
        return (
            f"the P waves found are not in a fixed relation to the QRS (PR varies by {spread:.0f} ms between "
            "beats), as with fibrillatory waves or AV dissociation"
        )
    return None
