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
    steepness = _steepness(slope(band, sampling_rate), candidates, sampling_rate)
    kept = _refractory(candidates, steepness, int(round(REFRACTORY_S * sampling_rate)))
    candidates, steepness = candidates[kept], steepness[kept]
    if len(candidates) < 3:
        return candidates
    steep = np.percentile(steepness, STEEP_PERCENTILE)
    return candidates[steepness >= MIN_RELATIVE_QRS_SLOPE * steep]


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
