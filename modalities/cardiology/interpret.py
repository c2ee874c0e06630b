"""Reference ranges, rhythm flags and the risk rule of the ECG analysis.

Risk rule (a documented triage rule over the measured findings, not a validated outcome model: the score is
not a probability). Points:

    QTc (Fridericia) > 500 ms                                       5  Drew et al. 2010: highly abnormal, torsade risk
    QTc (Fridericia) > 470 ms (men) / > 480 ms (women)              3  Drew et al. 2010: above the 99th percentile
    QTc (Fridericia) >= 450 ms (men) / >= 460 ms (women)            1  Rautaharju et al. 2009: prolonged
    irregular RR suggesting atrial fibrillation                     3  normalised RMSSD > 0.1 (Dash et al. 2009)
    QRS >= 120 ms                                                   2  Surawicz et al. 2009: bundle-branch block range
    QRS 110-119 ms                                                  1  Surawicz et al. 2009: incomplete block / IVCD
    PR > 200 ms                                                     1  first-degree AV block
    PR < 120 ms                                                     1  short PR (pre-excitation possible)
    heart rate >= 150 bpm                                           3  Panchal et al. 2020: a tachyarrhythmia
    heart rate < 60 bpm (bradycardia) or > 100 bpm (tachycardia)    1

Only the highest QTc item and the higher heart-rate item count. Sex unknown: the men's (lower) QTc thresholds.
A QTc at or under 390 ms is flagged "low" on the biomarker (Rautaharju's short-QT statement) but scores
nothing: most such ECGs are normal (the real Mortara record in the tests, read "ECG NORMALE" by its device,
has a QTc of 370 ms), and the short-QT syndrome needs far shorter values. A measurement that could not be
made adds nothing and is listed as not measured. The headline score is the points themselves ("ECG triage
points (MediLens rule)", 0 to 14); risk level: 0 points low, 1-2 borderline, 3-4 intermediate, 5 or more high
(MediLens's own bands). So a QTc above 500 ms alone is high, suspected atrial fibrillation alone is
intermediate, a 220 bpm tachycardia is intermediate, and sinus bradycardia alone is borderline. Premature
(ectopic) beats add no points: they are reported, and removed before the RR-irregularity measure.

The AF criterion: RMSSD of successive normal-to-normal RR intervals divided by their mean above 0.1, the
RR-irregularity threshold of Dash et al. (Ann Biomed Eng 2009;37:1701-1709), assessed when there are at least 6
such intervals. Dash et al. combined it with two other criteria over 128 beats; a 10 s ECG has about 10, so it
is used alone. Isolated premature beats are separated first (``rhythm``); frequent ectopy (more than a third
of the beats) still raises it: the flag reads "irregular RR suggesting atrial fibrillation (or ectopy)", to be
confirmed on the tracing.

Confidence: None. The signal-quality index (mean beat-to-template correlation) gates the analysis (below 0.66
it fails with the reason) and is reported, but it is not a probability that the findings are right, so no
confidence is derived from it.
"""

from __future__ import annotations

from ..results import Contribution
from .catalogue import (
    BANDS,
    CONVENTIONAL_RATE,
    DASH,
    DREW,
    JOGLAR,
    KLIGFIELD,
    KUSUMOTO,
    PAGE,
    PANCHAL,
    RAUTAHARJU,
    SURAWICZ,
)
from .rhythm import AF_MIN_RR_INTERVALS, AF_NRMSSD_THRESHOLD

METHOD_VERSION = (
    "cardiology 2.0 (neurokit2 0.2.13 gradient detector, 200 ms refractory; spectral rate check; premature beats "
    "separated; intervals on the median beat; Fridericia triage points)"
)


def qtc_thresholds(sex: str) -> dict[str, float]:
    female = sex == "female"
    return {"prolonged": 460 if female else 450, "above_99th": 480 if female else 470, "critical": 500, "short": 390}


def findings(*, heart_rate, nrmssd, rr_count, pr, qrs, qtc_fridericia, sex) -> list[dict]:
    """Each abnormal finding with its points, the value behind it and its source."""
    found = [
        _qtc(qtc_fridericia, sex),
        _irregular(nrmssd, rr_count),
        _qrs(qrs),
        _pr(pr),
        _rate(heart_rate),
    ]
    return [finding for finding in found if finding is not None]


def _finding(key, label, points, value, unit, source) -> dict:
    return {"finding": key, "label": label, "points": points, "value": value, "unit": unit, "source": source}


def _qtc(qtc, sex) -> dict | None:
    if qtc is None:
        return None
    limits = qtc_thresholds(sex)
    if qtc > limits["critical"]:
        return _finding("qtc_over_500", "QTc above 500 ms", 5, qtc, "ms", DREW)
    if qtc > limits["above_99th"]:
        return _finding("qtc_above_99th_percentile", f"QTc above {limits['above_99th']} ms", 3, qtc, "ms", DREW)
    if qtc >= limits["prolonged"]:
        label = f"QTc {limits['prolonged']} ms or more (prolonged)"
        return _finding("qtc_prolonged", label, 1, qtc, "ms", RAUTAHARJU)
    return None


def _irregular(nrmssd, rr_count) -> dict | None:
    if nrmssd is None or rr_count < AF_MIN_RR_INTERVALS or nrmssd <= AF_NRMSSD_THRESHOLD:
        return None
    label = "Irregular RR intervals suggesting atrial fibrillation (or ectopy)"
    return _finding("irregular_rr", label, 3, nrmssd, "ratio", DASH)


def _qrs(qrs) -> dict | None:
    if qrs is not None and qrs >= 120:
        return _finding("qrs_wide", "QRS 120 ms or more (bundle-branch block range)", 2, qrs, "ms", SURAWICZ)
    if qrs is not None and qrs >= 110:
        return _finding("qrs_borderline", "QRS 110-119 ms (incomplete block range)", 1, qrs, "ms", SURAWICZ)
    return None


def _pr(pr) -> dict | None:
    if pr is not None and pr > 200:
        return _finding("pr_long", "PR above 200 ms (first-degree AV block)", 1, pr, "ms", KUSUMOTO)
    if pr is not None and pr < 120:
        return _finding("pr_short", "PR below 120 ms (short PR)", 1, pr, "ms", SURAWICZ)
    return None


def _rate(heart_rate) -> dict | None:
    if heart_rate < 60:
        return _finding("bradycardia", "Bradycardia (under 60 bpm)", 1, heart_rate, "bpm", CONVENTIONAL_RATE)
    if heart_rate >= 150:
        label = "Tachycardia of 150 bpm or more (tachyarrhythmia range)"
        return _finding("tachycardia_marked", label, 3, heart_rate, "bpm", PANCHAL)
    if heart_rate > 100:
        return _finding("tachycardia", "Tachycardia (over 100 bpm)", 1, heart_rate, "bpm", CONVENTIONAL_RATE)
    return None


def risk(found: list[dict]) -> tuple[int, str]:
    """The triage points and their risk level."""
    points = sum(f["points"] for f in found)
    return points, BANDS.level(points)


_OPTIMAL = {
    "qtc_over_500": "under 450 ms (men), 460 ms (women)",
    "qtc_above_99th_percentile": "under 450 ms (men), 460 ms (women)",
    "qtc_prolonged": "under 450 ms (men), 460 ms (women)",
    "irregular_rr": "0.1 or less",
    "qrs_wide": "under 110 ms",
    "qrs_borderline": "under 110 ms",
    "pr_long": "120-200 ms",
    "pr_short": "120-200 ms",
    "bradycardia": "60-100 bpm",
    "tachycardia": "60-100 bpm",
    "tachycardia_marked": "60-100 bpm",
}


def contributions(found: list[dict]) -> list[Contribution]:
    """Each finding adds its points to the headline (the score's own unit)."""
    return [
        Contribution(
            factor=f["finding"],
            label=f["label"],
            change=float(f["points"]),
            current=round(float(f["value"]), 3),
            current_unit=f["unit"],
            optimal=_OPTIMAL[f["finding"]],
            source=f["source"],
        )
        for f in found
    ]


def rhythm_flags(*, heart_rate, nrmssd, rr_count) -> dict:
    return {
        "bradycardia": heart_rate < 60,
        "tachycardia": heart_rate > 100,
        "irregular_rr_suggesting_af": (
            None if nrmssd is None or rr_count < AF_MIN_RR_INTERVALS else nrmssd > AF_NRMSSD_THRESHOLD
        ),
    }


_ADVICE = {
    "qtc_over_500": (
        "QTc above 500 ms: review QT-prolonging drugs and check potassium and magnesium; confirm by manual "
        "measurement.",
        DREW,
    ),
    "qtc_above_99th_percentile": (
        "QTc above the 99th percentile: review QT-prolonging drugs and electrolytes; confirm by manual measurement.",
        DREW,
    ),
    "qtc_prolonged": (
        "Borderline-prolonged QTc: confirm by manual measurement and consider the drug list.",
        RAUTAHARJU,
    ),
    "irregular_rr": (
        "Irregular RR intervals suggest atrial fibrillation (or frequent ectopic beats): confirm on a 12-lead ECG "
        "read by a clinician; if atrial fibrillation is confirmed, assess stroke risk.",
        JOGLAR,
    ),
    "qrs_wide": (
        "QRS 120 ms or more: look for a bundle-branch block on the 12-lead ECG; a left bundle-branch block "
        "warrants an echocardiogram.",
        KUSUMOTO,
    ),
    "qrs_borderline": (
        "QRS 110-119 ms: incomplete block or non-specific conduction delay; compare with previous ECGs.",
        SURAWICZ,
    ),
    "pr_long": (
        "PR above 200 ms (first-degree AV block): review AV-nodal blocking drugs; usually benign alone.",
        KUSUMOTO,
    ),
    "pr_short": ("Short PR: look for a delta wave (pre-excitation) on the 12-lead ECG.", SURAWICZ),
    "bradycardia": ("Bradycardia: correlate with symptoms and rate-slowing drugs.", KUSUMOTO),
    "tachycardia": ("Tachycardia: confirm the rhythm and look for its cause.", PAGE),
    "tachycardia_marked": (
        "Tachycardia of 150 bpm or more: a tachyarrhythmia (e.g. supraventricular tachycardia) is likely; assess "
        "the patient now and confirm the rhythm on a 12-lead ECG.",
        PANCHAL,
    ),
}


def recommendations(found: list[dict]) -> list[dict]:
    advice = [{"text": _ADVICE[f["finding"]][0], "source": _ADVICE[f["finding"]][1]} for f in found]
    advice.append(
        {
            "text": "Automated ECG measurements are preliminary: a clinician should over-read the tracing.",
            "source": KLIGFIELD,
        }
    )
    return advice
