"""Finding the heartbeats in one lead: polarity, cleaning and R-peak detection.

polarity      nk.ecg_invert: a lead recorded upside down is turned upright before peak detection.
clean         nk.ecg_clean(method="neurokit"): 0.5 Hz high-pass Butterworth (order 5) and a powerline notch.
R-peaks       the gradient detector of NeuroKit2 (Makowski et al., Behav Res Methods 2021;53:1689; "neurokit"
              in nk.ecg_findpeaks) run on the cleaned lead low-passed at 25 Hz (the QRS band ends near 25 Hz,
              Pan & Tompkins, IEEE Trans Biomed Eng 1985;32:230; white noise above it only blurs the gradient),
              with its 100 ms gradient smoothing halved to 50 ms so that complexes 240 ms apart (250 bpm) stay
              apart. Its own 300 ms minimum gap between beats is switched off: it halved a 220 bpm tachycardia
              (RR 273 ms) to 110. Instead, candidate detections closer than 200 ms, the refractory period of
              Pan & Tompkins 1985, are resolved by keeping the steepest (a QRS is steeper than a P or T wave),
              whichever came first.
shallow       a detection whose steepest slope (within 60 ms) is under 40% of the steep beats' (the 90th
              percentile of the detections) is not a QRS complex but a P or T wave: dropped. Against the
              90th percentile rather than the median, because in complete heart block P waves outnumber the
              QRS complexes (75 against 33 a minute), and a median would be a P wave's. On the real Mortara
              record every beat is at 80% or more of the median.
"""

from __future__ import annotations

import warnings

REFRACTORY_S = 0.200  # Pan & Tompkins 1985: no second QRS within 200 ms of one
DETECTION_LOWPASS_HZ = 25.0
GRADIENT_SMOOTHING_S = 0.05
MIN_RELATIVE_QRS_SLOPE = 0.4
STEEP_PERCENTILE = 90
DERIVATIVE_SMOOTHING_S = 0.008
SLOPE_REACH_S = 0.06
EXTRA_TOLERANCE = 0.15
EXTRA_STEEPNESS = 0.6
SEARCH_BACK_RR = 1.66  # Pan & Tompkins 1985


def _neurokit():
    import neurokit2

    return neurokit2


def clean(signal, sampling_rate: float):
    """The lead turned upright and cleaned; returns (cleaned, inverted)."""
    import numpy as np

    nk = _neurokit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        upright, inverted = nk.ecg_invert(np.asarray(signal, dtype=float), sampling_rate=sampling_rate)
        cleaned = np.asarray(nk.ecg_clean(upright, sampling_rate=sampling_rate, method="neurokit"), dtype=float)
    return cleaned, bool(inverted)


def slope(signal, sampling_rate: float):
    """Absolute derivative of the signal smoothed over 8 ms (per sample)."""
    import numpy as np

    window = max(1, int(round(DERIVATIVE_SMOOTHING_S * sampling_rate)))
    return np.abs(np.gradient(np.convolve(signal, np.ones(window) / window, mode="same")))


def r_peaks(cleaned, sampling_rate: float):
    """Sample indices of the R peaks (empty when nothing QRS-like is found)."""
    import numpy as np
    import scipy.signal

    nk = _neurokit()
    sos = scipy.signal.butter(4, DETECTION_LOWPASS_HZ, btype="low", fs=sampling_rate, output="sos")
    band = scipy.signal.sosfiltfilt(sos, cleaned)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = nk.ecg_findpeaks(
                band, sampling_rate=sampling_rate, method="neurokit", mindelay=0.0, smoothwindow=GRADIENT_SMOOTHING_S
            )["ECG_R_Peaks"]
        except Exception:  # neurokit2 raises on traces with no usable QRS energy
            found = []
    candidates = np.unique(np.asarray(found, dtype=int))
    if len(candidates) == 0:
        return candidates
    slopes = slope(band, sampling_rate)
    steepness = _steepness(slopes, candidates, sampling_rate)
    kept = _refractory(candidates, steepness, int(round(REFRACTORY_S * sampling_rate)))
    candidates, steepness = candidates[kept], steepness[kept]
    if len(candidates) < 3:
        return candidates
    steep = np.percentile(steepness, STEEP_PERCENTILE)
    strong = steepness >= MIN_RELATIVE_QRS_SLOPE * steep
    peaks = _drop_extra(candidates[strong], steepness[strong], steep)
    return _search_back(peaks, band, slopes, steep, sampling_rate)


def _drop_extra(peaks, steepness, steep: float):
    """A detection that splits one RR interval into two (their sum within 15% of the median RR) and is less
    steep than the beats (under 60% of them) is noise, not a beat: the "extra beat" of Lipponen & Tarvainen (J
    Med Eng Technol 2019;43:173). A premature beat does not split an interval: its pause makes up the cycle.
    At either end of the record, where there is no interval to split, a shallow detection that comes early
    (its one interval under 80% of the median) is dropped the same way."""
    import numpy as np

    while len(peaks) >= 4:
        rr = np.diff(peaks)
        median = float(np.median(rr))
        shallow = steepness < EXTRA_STEEPNESS * steep
        splits = np.zeros(len(peaks), dtype=bool)
        splits[1:-1] = np.abs(rr[:-1] + rr[1:] - median) <= EXTRA_TOLERANCE * median
        splits[0], splits[-1] = rr[0] < 0.8 * median, rr[-1] < 0.8 * median
        suspects = np.nonzero(splits & shallow)[0]
        if not len(suspects):
            break
        drop = int(suspects[np.argmin(steepness[suspects])])
        peaks, steepness = np.delete(peaks, drop), np.delete(steepness, drop)
    return peaks


def _search_back(peaks, band, slopes, steep: float, sampling_rate: float):
    """Pan & Tompkins' search-back (1985): an RR interval over 166% of the median is searched again for a QRS
    at half the detection threshold (20% of the steep beats' slope), at least 200 ms from both its ends."""
    import numpy as np

    if len(peaks) < 3:
        return peaks
    median = float(np.median(np.diff(peaks)))
    gap = int(round(REFRACTORY_S * sampling_rate))
    reach = int(SLOPE_REACH_S * sampling_rate)
    found = []
    for start, end in zip(peaks[:-1], peaks[1:], strict=True):
        if end - start <= SEARCH_BACK_RR * median or end - start <= 2 * gap:
            continue
        low, high = start + gap, end - gap
        steepest = low + int(np.argmax(slopes[low:high]))
        if slopes[steepest] < 0.5 * MIN_RELATIVE_QRS_SLOPE * steep:
            continue
        around = slice(max(low, steepest - reach), min(high, steepest + reach))
        found.append(around.start + int(np.argmax(band[around])))
    return np.sort(np.concatenate([peaks, np.asarray(found, dtype=int)])) if found else peaks


def _steepness(slopes, peaks, sampling_rate: float):
    import numpy as np

    reach = int(SLOPE_REACH_S * sampling_rate)
    return np.asarray([slopes[max(0, p - reach) : p + reach + 1].max() for p in peaks])


def _refractory(peaks, steepness, gap: int):
    """Indices of the detections kept when no two may be closer than ``gap`` samples: steepest first."""
    import bisect

    import numpy as np

    positions: list[int] = []
    kept: list[int] = []
    for index in np.argsort(-steepness, kind="stable"):
        peak = int(peaks[index])
        at = bisect.bisect(positions, peak)
        if (at > 0 and peak - positions[at - 1] < gap) or (at < len(positions) and positions[at] - peak < gap):
            continue
        positions.insert(at, peak)
        kept.append(int(index))
    return np.asarray(sorted(kept), dtype=int)
