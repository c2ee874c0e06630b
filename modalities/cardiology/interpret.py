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
    heart rate < 60 bpm (bradycardia) or > 100 bpm (tachycardia)    1

Only the highest QTc item counts. Sex unknown: the men's (lower) QTc thresholds. A QTc at or under 390 ms is
flagged "low" on the biomarker (Rautaharju's short-QT statement) but scores nothing: most such ECGs are normal
(the real Mortara record in the tests, read "ECG NORMALE" by its device, has a QTc of 370 ms), and the
short-QT syndrome needs far shorter values. A measurement that could not be made adds nothing and is listed
as not measured. risk_score = 20 x points, capped at 100; risk level: 0 points low, 1-2 borderline, 3-4
intermediate, 5 or more high. So a QTc above 500 ms alone is high, suspected
atrial fibrillation alone is intermediate, and sinus bradycardia alone is borderline.

The AF criterion: RMSSD of successive RR intervals divided by the mean RR above 0.1, the RR-irregularity
threshold of Dash et al. (Ann Biomed Eng 2009;37:1701-1709), assessed when there are at least 6 RR intervals.
Dash et al. combined it with two other criteria over 128 beats; a 10 s ECG has about 10, so it is used alone,
and frequent ectopic beats also raise it: the flag reads "irregular RR suggesting atrial fibrillation (or
ectopy)", to be confirmed on the tracing.

Confidence: None. The signal-quality index (mean beat-to-template correlation) gates the analysis (below 0.66
it fails with the reason) and is reported, but it is not a probability that the findings are right, so no
confidence is derived from it.
"""

from __future__ import annotations

from ..base import BiomarkerSpec
from .measure import AF_MIN_RR_INTERVALS, AF_NRMSSD_THRESHOLD

METHOD_VERSION = "cardiology 1.0 (neurokit2 0.2.13; slope-threshold QRS boundaries; Fridericia risk rule)"

NEUROKIT = "NeuroKit2 (Makowski et al., Behav Res Methods 2021;53:1689)"
TASK_FORCE = "Task Force of the ESC and NASPE, Circulation 1996;93:1043"
SURAWICZ = "AHA/ACCF/HRS 2009 ECG standardization, Part III (Surawicz et al., J Am Coll Cardiol 2009;53:976)"
RAUTAHARJU = "AHA/ACCF/HRS 2009 ECG standardization, Part IV (Rautaharju et al., J Am Coll Cardiol 2009;53:982)"
DREW = "AHA/ACCF scientific statement on torsade de pointes (Drew et al., Circulation 2010;121:1047)"
KUSUMOTO = "2018 ACC/AHA/HRS bradycardia and conduction delay guideline (Kusumoto et al., Circulation 2019;140:e382)"
JOGLAR = "2023 ACC/AHA/ACCP/HRS atrial fibrillation guideline (Joglar et al., Circulation 2024;149:e1)"
PAGE = "2015 ACC/AHA/HRS supraventricular tachycardia guideline (Page et al., Circulation 2016;133:e506)"
KLIGFIELD = "AHA/ACCF/HRS 2007 ECG standardization, Part I (Kligfield et al., Circulation 2007;115:1306)"
CONVENTIONAL_RATE = (
    "conventional adult resting limits: bradycardia < 60, tachycardia > 100 bpm "
    "(Surawicz & Knilans, Chou's Electrocardiography in Clinical Practice, 6th ed., 2008)"
)

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "heart_rate",
            "Heart rate",
            "rhythm",
            "bpm",
            f"60 000 / mean RR of {NEUROKIT} R-peaks; range: {CONVENTIONAL_RATE}",
            reference_low=60,
            reference_high=100,
        ),
        BiomarkerSpec(
            "rr_irregularity",
            "RR irregularity (RMSSD / mean RR)",
            "rhythm",
            "ratio",
            "Normalised RMSSD; above 0.1 suggests atrial fibrillation (Dash et al., Ann Biomed Eng 2009;37:1701)",
            reference_high=0.1,
        ),
        BiomarkerSpec(
            "hrv_sdnn",
            "HRV: SDNN",
            "heart_rate_variability",
            "ms",
            f"{TASK_FORCE}; ultra-short recording, no reference range (Munoz et al., PLoS One 2015;10:e0138921)",
        ),
        BiomarkerSpec(
            "hrv_rmssd",
            "HRV: RMSSD",
            "heart_rate_variability",
            "ms",
            f"{TASK_FORCE}; ultra-short recording, no reference range (Munoz et al., PLoS One 2015;10:e0138921)",
        ),
        BiomarkerSpec(
            "hrv_pnn50",
            "HRV: pNN50",
            "heart_rate_variability",
            "%",
            f"{TASK_FORCE}; ultra-short recording, no reference range",
        ),
        BiomarkerSpec(
            "pr_interval",
            "PR interval",
            "intervals",
            "ms",
            f"P onset (wavelet delineation, Martinez et al., IEEE TBME 2004;51:570) to QRS onset; 120-200 ms, "
            f"first-degree AV block > 200 ms ({KUSUMOTO})",
            reference_low=120,
            reference_high=200,
        ),
        BiomarkerSpec(
            "qrs_duration",
            "QRS duration",
            "intervals",
            "ms",
            f"Slope-threshold QRS boundaries (after Laguna et al., Comput Biomed Res 1994;27:45); normal under 110 ms, "
            f"110-119 incomplete block, >= 120 ms bundle-branch block range ({SURAWICZ})",
            reference_high=110,
            abnormal_at=frozenset({"reference_high"}),  # 110 ms is already incomplete block
        ),
        BiomarkerSpec(
            "qt_interval",
            "QT interval",
            "intervals",
            "ms",
            "QRS onset to T end (Martinez et al. 2004 wavelet delineation); rate-dependent, read the QTc",
        ),
        BiomarkerSpec(
            "qtc_bazett",
            "QTc (Bazett)",
            "intervals",
            "ms",
            f"QT / sqrt(RR) (Bazett, Heart 1920;7:353); short <= 390, prolonged >= 450 ms men / >= 460 women "
            f"({RAUTAHARJU}); the flag uses 450; critical > 500 ms ({DREW})",
            reference_low=390,
            reference_high=450,
            critical_high=500,
            abnormal_at=frozenset({"reference_low", "reference_high"}),  # short <= 390, prolonged >= 450
        ),
        BiomarkerSpec(
            "qtc_fridericia",
            "QTc (Fridericia)",
            "intervals",
            "ms",
            f"QT / RR^(1/3) (Fridericia, Acta Med Scand 1920;53:469); short <= 390, prolonged >= 450 ms men / "
            f">= 460 women ({RAUTAHARJU}); the flag uses 450; critical > 500 ms ({DREW})",
            reference_low=390,
            reference_high=450,
            critical_high=500,
            abnormal_at=frozenset({"reference_low", "reference_high"}),  # short <= 390, prolonged >= 450
        ),
        BiomarkerSpec(
            "ecg_signal_quality",
            "ECG signal quality",
            "signal_quality",
            "r",
            "Mean beat-to-template correlation (neurokit2 templatematch, after Orphanidou et al., IEEE J Biomed "
            "Health Inform 2015;19:832); acceptable >= 0.66",
            reference_low=0.66,
        ),
    ]
}

LEVELS = ((5, "high"), (3, "intermediate"), (1, "borderline"), (0, "low"))


def qtc_thresholds(sex: str) -> dict[str, float]:
    female = sex == "female"
    return {"prolonged": 460 if female else 450, "above_99th": 480 if female else 470, "critical": 500, "short": 390}


def findings(*, heart_rate, nrmssd, rr_count, pr, qrs, qtc_fridericia, sex) -> list[dict]:
    """Each abnormal finding with its points, the value behind it and its source."""
    found = []

    def add(key, label, points, value, unit, source):
        found.append({"finding": key, "label": label, "points": points, "value": value, "unit": unit, "source": source})

    if qtc_fridericia is not None:
        limits = qtc_thresholds(sex)
        if qtc_fridericia > limits["critical"]:
            add("qtc_over_500", "QTc above 500 ms", 5, qtc_fridericia, "ms", DREW)
        elif qtc_fridericia > limits["above_99th"]:
            add("qtc_above_99th_percentile", f"QTc above {limits['above_99th']} ms", 3, qtc_fridericia, "ms", DREW)
        elif qtc_fridericia >= limits["prolonged"]:
            add(
                "qtc_prolonged",
                f"QTc {limits['prolonged']} ms or more (prolonged)",
                1,
                qtc_fridericia,
                "ms",
                RAUTAHARJU,
            )
    if nrmssd is not None and rr_count >= AF_MIN_RR_INTERVALS and nrmssd > AF_NRMSSD_THRESHOLD:
        add(
            "irregular_rr",
            "Irregular RR intervals suggesting atrial fibrillation (or ectopy)",
            3,
            nrmssd,
            "ratio",
            "Dash et al., Ann Biomed Eng 2009;37:1701",
        )
    if qrs is not None:
        if qrs >= 120:
            add("qrs_wide", "QRS 120 ms or more (bundle-branch block range)", 2, qrs, "ms", SURAWICZ)
        elif qrs >= 110:
            add("qrs_borderline", "QRS 110-119 ms (incomplete block range)", 1, qrs, "ms", SURAWICZ)
    if pr is not None:
        if pr > 200:
            add("pr_long", "PR above 200 ms (first-degree AV block)", 1, pr, "ms", KUSUMOTO)
        elif pr < 120:
            add("pr_short", "PR below 120 ms (short PR)", 1, pr, "ms", SURAWICZ)
    if heart_rate < 60:
        add("bradycardia", "Bradycardia (under 60 bpm)", 1, heart_rate, "bpm", CONVENTIONAL_RATE)
    elif heart_rate > 100:
        add("tachycardia", "Tachycardia (over 100 bpm)", 1, heart_rate, "bpm", CONVENTIONAL_RATE)
    return found


def risk(found: list[dict]) -> tuple[float, str, int]:
    points = sum(f["points"] for f in found)
    level = next(name for minimum, name in LEVELS if points >= minimum)
    return float(min(100, 20 * points)), level, points


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
