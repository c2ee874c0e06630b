"""What the ECG analysis reports: its biomarkers (unit, range, source, display precision), the women's QTc
limits, and the scale of its headline score, the triage points of the rule in ``interpret``."""

from __future__ import annotations

import dataclasses

from ..base import BiomarkerSpec
from ..results import RiskBands, ScoreScale

NEUROKIT = "NeuroKit2 (Makowski et al., Behav Res Methods 2021;53:1689)"
TASK_FORCE = "Task Force of the ESC and NASPE, Circulation 1996;93:1043"
SURAWICZ = "AHA/ACCF/HRS 2009 ECG standardization, Part III (Surawicz et al., J Am Coll Cardiol 2009;53:976)"
RAUTAHARJU = "AHA/ACCF/HRS 2009 ECG standardization, Part IV (Rautaharju et al., J Am Coll Cardiol 2009;53:982)"
DREW = "AHA/ACCF scientific statement on torsade de pointes (Drew et al., Circulation 2010;121:1047)"
KUSUMOTO = "2018 ACC/AHA/HRS bradycardia and conduction delay guideline (Kusumoto et al., Circulation 2019;140:e382)"
JOGLAR = "2023 ACC/AHA/ACCP/HRS atrial fibrillation guideline (Joglar et al., Circulation 2024;149:e1)"
PAGE = "2015 ACC/AHA/HRS supraventricular tachycardia guideline (Page et al., Circulation 2016;133:e506)"
KLIGFIELD = "AHA/ACCF/HRS 2007 ECG standardization, Part I (Kligfield et al., Circulation 2007;115:1306)"
PANCHAL = (
    "2020 AHA guidelines, adult advanced life support: a tachyarrhythmia is typically 150/min or more "
    "(Panchal et al., Circulation 2020;142:S366)"
)
DASH = "Dash et al., Ann Biomed Eng 2009;37:1701"
CONVENTIONAL_RATE = (
    "conventional adult resting limits: bradycardia < 60, tachycardia > 100 bpm "
    "(Surawicz & Knilans, Chou's Electrocardiography in Clinical Practice, 6th ed., 2008)"
)
MEDIAN_BEAT = "measured on the median beat"

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "heart_rate",
            "Heart rate",
            "rhythm",
            "bpm",
            f"Ventricular rate: 60 000 / mean RR of the R peaks (gradient detector of {NEUROKIT}, 200 ms "
            f"refractory period after Pan & Tompkins 1985); range: {CONVENTIONAL_RATE}",
            reference_low=60,
            reference_high=100,
            decimals=0,
            loinc="8867-4",  # Heart rate
        ),
        BiomarkerSpec(
            "rr_irregularity",
            "RR irregularity (RMSSD / mean RR)",
            "rhythm",
            "ratio",
            f"Normalised RMSSD of the normal-to-normal intervals (premature beats removed); above 0.1 suggests "
            f"atrial fibrillation ({DASH})",
            reference_high=0.1,
            decimals=3,
        ),
        BiomarkerSpec(
            "hrv_sdnn",
            "HRV: SDNN",
            "heart_rate_variability",
            "ms",
            f"{TASK_FORCE}; ultra-short recording, no reference range (Munoz et al., PLoS One 2015;10:e0138921)",
            decimals=1,
        ),
        BiomarkerSpec(
            "hrv_rmssd",
            "HRV: RMSSD",
            "heart_rate_variability",
            "ms",
            f"{TASK_FORCE}; ultra-short recording, no reference range (Munoz et al., PLoS One 2015;10:e0138921)",
            decimals=1,
        ),
        BiomarkerSpec(
            "hrv_pnn50",
            "HRV: pNN50",
            "heart_rate_variability",
            "%",
            f"{TASK_FORCE}; ultra-short recording, no reference range",
            decimals=1,
        ),
        BiomarkerSpec(
            "pr_interval",
            "PR interval",
            "intervals",
            "ms",
            f"P onset (wavelet delineation, Martinez et al., IEEE TBME 2004;51:570) to QRS onset, {MEDIAN_BEAT}; "
            f"120-200 ms, first-degree AV block > 200 ms ({KUSUMOTO})",
            reference_low=120,
            reference_high=200,
            decimals=0,
            loinc="8625-6",  # P-R interval
        ),
        BiomarkerSpec(
            "qrs_duration",
            "QRS duration",
            "intervals",
            "ms",
            f"Slope-threshold QRS boundaries (after Laguna et al., Comput Biomed Res 1994;27:45), {MEDIAN_BEAT}; "
            f"normal under 110 ms, 110-119 incomplete block, >= 120 ms bundle-branch block range ({SURAWICZ})",
            reference_high=110,
            abnormal_at=frozenset({"reference_high"}),  # 110 ms is already incomplete block
            decimals=0,
            loinc="8633-0",  # QRS duration
        ),
        BiomarkerSpec(
            "qt_interval",
            "QT interval",
            "intervals",
            "ms",
            f"QRS onset to T end (Martinez et al. 2004 wavelet delineation), {MEDIAN_BEAT}; rate-dependent, read "
            "the QTc",
            decimals=0,
            loinc="8634-8",  # Q-T interval
        ),
        BiomarkerSpec(
            "qtc_bazett",
            "QTc (Bazett)",
            "intervals",
            "ms",
            f"QT / sqrt(RR) (Bazett, Heart 1920;7:353); short <= 390, prolonged >= 450 ms men / >= 460 women "
            f"({RAUTAHARJU}); flagged at 450 for men and when sex is unknown, 460 for women; critical > 500 ms "
            f"({DREW})",
            reference_low=390,
            reference_high=450,
            critical_high=500,
            abnormal_at=frozenset({"reference_low", "reference_high"}),  # short <= 390, prolonged >= 450
            decimals=0,
            # LOINC's own description of 8636-3 ("Q-T interval corrected"): use it "to report a QTc without
            # specifying a method. For QTc by Fridericia use 76634-5, and for QTc by Bazett use 76635-2."
            loinc="76635-2",  # Q-T interval corrected based on Bazett formula
        ),
        BiomarkerSpec(
            "qtc_fridericia",
            "QTc (Fridericia)",
            "intervals",
            "ms",
            f"QT / RR^(1/3) (Fridericia, Acta Med Scand 1920;53:469); short <= 390, prolonged >= 450 ms men / "
            f">= 460 women ({RAUTAHARJU}); flagged at 450 for men and when sex is unknown, 460 for women; "
            f"critical > 500 ms ({DREW})",
            reference_low=390,
            reference_high=450,
            critical_high=500,
            abnormal_at=frozenset({"reference_low", "reference_high"}),  # short <= 390, prolonged >= 450
            decimals=0,
            loinc="76634-5",  # Q-T interval corrected based on Fridericia formula
        ),
        BiomarkerSpec(
            "ecg_signal_quality",
            "ECG signal quality",
            "signal_quality",
            "r",
            "Mean beat-to-template correlation (neurokit2 templatematch, after Orphanidou et al., IEEE J Biomed "
            "Health Inform 2015;19:832); acceptable >= 0.66",
            reference_low=0.66,
            decimals=2,
        ),
    ]
}

WOMEN_QTC_PROLONGED_MS = 460  # Rautaharju et al. 2009


def spec_overrides(sex: str) -> dict[str, BiomarkerSpec]:
    """A woman's QTc is prolonged from 460 ms (Rautaharju et al. 2009), as the risk rule reads it."""
    if sex != "female":
        return {}
    return {
        name: dataclasses.replace(CATALOGUE[name], reference_high=WOMEN_QTC_PROLONGED_MS)
        for name in ("qtc_bazett", "qtc_fridericia")
    }


# The most points the rule can give: the highest QTc item, irregular RR, the wider QRS item, one PR item and
# the higher heart-rate item (see ``interpret``).
MAX_POINTS = 5 + 3 + 2 + 1 + 3

BANDS = RiskBands(
    ((1, "borderline"), (3, "intermediate"), (5, "high")),
    source="MediLens's own triage bands: 0 points low, 1-2 borderline, 3-4 intermediate, 5 or more high",
)

SCALE = ScoreScale(
    key="ecg_triage_points",
    label="ECG triage points (MediLens rule)",
    unit="points",
    minimum=0,
    maximum=MAX_POINTS,
    source=(
        f"MediLens's own sum of points over published ECG limits: QTc ({DREW}; {RAUTAHARJU}), RR irregularity "
        f"({DASH}), QRS duration and PR ({SURAWICZ}; {KUSUMOTO}), heart rate ({CONVENTIONAL_RATE}; {PANCHAL}). "
        "Not a validated outcome model and not a probability."
    ),
    own_rule=True,
    decimals=0,
    bands=BANDS,
    note="A triage rule of MediLens's own over published limits: more points, more reason for a clinician to "
    "read the tracing soon.",
)
