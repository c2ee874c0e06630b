"""What the cardiovascular-risk analysis reports: its biomarkers (unit, range, source, precision) and its
headline scores (what the number is, and the categories it is read in)."""

from __future__ import annotations

from modalities.base import BiomarkerSpec
from modalities.results import ScoreScale

from .categories import GUIDELINE_BANDS, RISK_DECIMALS

MG_DL = "mg/dL"
MMOL_L = "mmol/L"
UMOL_L = "umol/L"
EGFR_UNIT = "mL/min/1.73 m²"

ATP3 = "NCEP ATP III (JAMA 2001;285:2486), Table II"
ACC_AHA_BP = "2017 ACC/AHA High Blood Pressure Guideline (Whelton et al., Hypertension 2018;71:e13), Table 6"
WHO_BMI = "WHO Technical Report Series 894 (2000): BMI categories"
KDIGO = "KDIGO 2012 CKD Guideline (Kidney Int Suppl 2013;3:1), GFR categories G1-G5"
GOFF = "Goff et al., Circulation 2014;129(suppl 2):S49 (Pooled Cohort Equations)"
KHAN = "Khan et al., Circulation 2024;149:430 (PREVENT)"

# These sources start a category at the upper limit itself (ATP III "borderline high 200-239", ACC/AHA
# "elevated 120-129", WHO "overweight 25-29.9").
FROM_HIGH = frozenset({"reference_high"})

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "total_cholesterol",
            "Total cholesterol",
            "lipids",
            MG_DL,
            ATP3,
            reference_high=200,
            abnormal_at=FROM_HIGH,
            decimals=0,
            loinc="2093-3",  # Cholesterol [Mass/volume] in Serum or Plasma
        ),
        BiomarkerSpec(
            "hdl_cholesterol",
            "HDL cholesterol",
            "lipids",
            MG_DL,
            ATP3,
            reference_low=40,
            decimals=0,
            loinc="2085-9",  # Cholesterol in HDL [Mass/volume] in Serum or Plasma
        ),
        BiomarkerSpec(
            "non_hdl_cholesterol",
            "Non-HDL cholesterol",
            "lipids",
            MG_DL,
            ATP3,
            reference_high=130,
            abnormal_at=FROM_HIGH,
            decimals=0,
            loinc="43396-1",  # Cholesterol non HDL [Mass/volume] in Serum or Plasma
        ),
        BiomarkerSpec(
            "systolic_bp",
            "Systolic blood pressure",
            "blood_pressure",
            "mmHg",
            ACC_AHA_BP,
            reference_low=90,
            reference_high=120,
            critical_high=180,  # a hypertensive crisis is above 180 (Whelton 2018), so 180 itself is not critical
            abnormal_at=FROM_HIGH,
            decimals=0,
            loinc="8480-6",  # Systolic blood pressure
        ),
        BiomarkerSpec(
            "bmi",
            "Body-mass index",
            "anthropometry",
            "kg/m²",
            WHO_BMI,
            reference_low=18.5,
            reference_high=25,
            abnormal_at=FROM_HIGH,
            decimals=1,
            loinc="39156-5",  # Body mass index (BMI) [Ratio]
        ),
        # Kidney failure (G5) is defined below 15 (KDIGO): the one critical limit here with a source.
        BiomarkerSpec(
            "egfr",
            "eGFR (CKD-EPI 2021)",
            "kidney",
            EGFR_UNIT,
            KDIGO,
            reference_low=60,
            critical_low=15,
            decimals=0,
            loinc="98979-8",  # GFR/1.73 sq M.predicted by creatinine-based formula (CKD-EPI 2021)
        ),
        # The PCE risk is the number the guideline's categories were defined on: flagged in those
        # categories (9.9% is "intermediate", 26.7% is "high"; no guideline calls a risk "critical").
        BiomarkerSpec(
            "pce_ascvd_10y",
            "10-year ASCVD risk (PCE)",
            "risk_estimate",
            "%",
            f"{GOFF}; categories: {GUIDELINE_BANDS.source}",
            decimals=RISK_DECIMALS,
            bands=GUIDELINE_BANDS,
        ),
        BiomarkerSpec(
            "prevent_total_cvd_10y",
            "10-year total CVD risk (PREVENT)",
            "risk_estimate",
            "%",
            f"{KHAN} (no guideline categories: shown for trend)",
            decimals=RISK_DECIMALS,
        ),
        BiomarkerSpec(
            "prevent_ascvd_10y",
            "10-year ASCVD risk (PREVENT)",
            "risk_estimate",
            "%",
            f"{KHAN} (no guideline categories: shown for trend)",
            decimals=RISK_DECIMALS,
        ),
    ]
}

PCE_SCORE = ScoreScale(
    key="pce_ascvd_10y",
    label="10-year ASCVD risk (PCE)",
    unit="%",
    minimum=0,
    maximum=100,
    source=GOFF,
    decimals=RISK_DECIMALS,
    bands=GUIDELINE_BANDS,
    biomarker="pce_ascvd_10y",
    probability=True,
)
# PREVENT leads only where the PCE do not apply (ages 30-39). The guideline's categories were defined on the
# PCE, whose estimates run higher: the level is read in them, and a note says so.
PREVENT_SCORE = ScoreScale(
    key="prevent_ascvd_10y",
    label="10-year ASCVD risk (PREVENT)",
    unit="%",
    minimum=0,
    maximum=100,
    source=KHAN,
    decimals=RISK_DECIMALS,
    bands=GUIDELINE_BANDS,
    biomarker="prevent_ascvd_10y",
    probability=True,
    note="Risk categories defined on the Pooled Cohort Equations, applied to PREVENT: interpret with caution.",
)
SCORES = {scale.key: scale for scale in (PCE_SCORE, PREVENT_SCORE)}
