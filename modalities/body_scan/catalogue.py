"""What a body scan reports: its biomarkers, their units, precision, ranges and sources.

* Waist-to-height ratio: >= 0.5 increased cardiometabolic risk (Ashwell, Gunn & Gibson, Obes Rev 2012;13:275-286,
  meta-analysis of 31 studies, "keep your waist circumference to less than half your height"); >= 0.6 the
  "take action" band of the same group's screening chart (Ashwell & Gibson, BMJ Open 2016;6:e010159).
* Waist-to-hip ratio: >= 0.90 (men) and >= 0.85 (women) "substantially increased risk of metabolic complications"
  (WHO, Waist circumference and waist-hip ratio: report of a WHO expert consultation, Geneva 2008, table 2). The
  limit depends on sex: the catalogue entry has none and each result sets the patient's (``spec_overrides``).
* Circumferences, height, area, volume: measurements without a range here (WHO 2008's sex-specific waist cut-offs
  94/80 cm and 102/88 cm are quoted in the waist entry's source, not used for flags).
"""

from __future__ import annotations

from dataclasses import replace

from ..base import BiomarkerSpec
from ..results import HIGH, INTERMEDIATE, RiskBands

METHOD_VERSION = "body_scan 1.0 (trimesh 5.2 sections, shapely 2.2 convex hulls, pymeshfix 0.18 repair)"

ASHWELL_2012 = "Ashwell, Gunn & Gibson, Obes Rev 2012;13:275-286"
ASHWELL_2016 = "Ashwell & Gibson, BMJ Open 2016;6:e010159"
WHO_2008 = "WHO, Waist circumference and waist-hip ratio: report of a WHO expert consultation, Geneva 2008"
MOSTELLER = "Mosteller, N Engl J Med 1987;317:1098: BSA (m^2) = sqrt(height (cm) x weight (kg) / 3600)"
WHTR_INCREASED, WHTR_ACTION = 0.5, 0.6
WHR_LIMITS = {"male": 0.90, "female": 0.85}

WHTR_BANDS = RiskBands(
    ((WHTR_INCREASED, INTERMEDIATE), (WHTR_ACTION, HIGH)),
    source=f"{ASHWELL_2012} (>= 0.5 increased risk); {ASHWELL_2016} (>= 0.6 take action)",
)
SCAN = "measured on the 3D body scan"

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "standing_height", "Standing height (scan)", "anthropometry", "cm",
            f"{SCAN}: floor to vertex (ISO 7250-1:2017 5.1.1 stature)", decimals=1, loinc="8302-2",
        ),
        BiomarkerSpec(
            "waist_circumference", "Waist circumference (WHO site)", "anthropometry", "cm",
            f"{SCAN}: {WHO_2008} site, midway lowest rib - iliac crest, placed at 0.624 of standing height (ANSUR II "
            "2012); trunk convex-hull length. WHO 2008 cut-offs (not flagged here): > 94 / > 80 cm increased, "
            "> 102 / > 88 cm substantially increased (men / women)",
            decimals=1,
        ),
        BiomarkerSpec(
            "narrowest_waist_circumference", "Narrowest trunk circumference", "anthropometry", "cm",
            f"{SCAN}: smallest trunk convex-hull perimeter between 0.58 and 0.68 of standing height; no reference",
            decimals=1,
        ),
        BiomarkerSpec(
            "hip_circumference", "Hip circumference", "anthropometry", "cm",
            f"{SCAN}: largest trunk convex-hull perimeter around the buttocks ({WHO_2008}: widest portion of the "
            "buttocks)",
            decimals=1,
        ),
        BiomarkerSpec(
            "waist_to_height_ratio", "Waist-to-height ratio", "cardiometabolic", "ratio",
            f"{ASHWELL_2012}: >= 0.5 increased cardiometabolic risk; {ASHWELL_2016}: >= 0.6 take action",
            decimals=2, bands=WHTR_BANDS,
        ),
        BiomarkerSpec(
            "waist_to_hip_ratio", "Waist-to-hip ratio", "cardiometabolic", "ratio",
            f"{WHO_2008}: >= 0.90 men, >= 0.85 women substantially increased risk of metabolic complications",
            decimals=2,
        ),
        BiomarkerSpec(
            "body_surface_area_scan", "Body surface area (scan)", "anthropometry", "m2",
            f"{SCAN}: sum of the mesh's triangle areas", decimals=2,
        ),
        BiomarkerSpec(
            "body_surface_area_mosteller", "Body surface area (Mosteller, from the record)", "anthropometry", "m2",
            f"{MOSTELLER}; from the patient record's height and weight, not the scan", decimals=2,
        ),
        BiomarkerSpec(
            "body_volume", "Body volume (scan)", "anthropometry", "L",
            f"{SCAN}: enclosed volume of the closed surface (divergence theorem)", decimals=1,
        ),
    ]
}


def whr_spec(sex_at_birth: str) -> BiomarkerSpec | None:
    """The waist-to-hip ratio entry with the WHO 2008 limit for this sex (a ratio at the limit is already beyond
    it: "0.90 and above"); None where the record gives no sex the source covers."""
    limit = WHR_LIMITS.get(sex_at_birth)
    if limit is None:
        return None
    return replace(CATALOGUE["waist_to_hip_ratio"], reference_high=limit, abnormal_at=frozenset({"reference_high"}))
