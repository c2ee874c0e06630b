"""What the dermatology analysis reports: each biomarker's unit, display precision, range and source, and
the thresholds the ranges share with the rules (``rule``) so that a flag and a criterion read a number alike.

Sources are cited next to each threshold. A threshold that is MediLens's own (the A, B, C and E cut-offs of
the clinical checklist, the growth that counts as evolution) says so here, in the catalogue entry the
clinician reads, in the score's note and in README; it is an operating value, not a validated cut-off.
"""

from __future__ import annotations

from ..base import BiomarkerSpec
from ..results import HIGH, INTERMEDIATE, RiskBands

# 2.0: the headline is the Stolz TDS itself (or the count of positive checklist criteria), no longer a
# 0-100 rescaling; values are rounded to their display precision before any rule reads them.
METHOD_VERSION = "dermatology-abcd 2.0"

# --- sources ----------------------------------------------------------------------------------------------
STOLZ = (
    "Stolz W et al., Eur J Dermatol 1994;4:521; Nachbar F et al., J Am Acad Dermatol 1994;30:551 "
    "(ABCD rule of dermoscopy, TDS = 1.3A + 0.1B + 0.5C + 0.5D)"
)
STOLZ_BANDS = (
    "Stolz et al. 1994; Nachbar et al. 1994: TDS < 4.75 benign, 4.75-5.45 suspicious, > 5.45 highly "
    "suspicious of melanoma"
)
STOECKER = "Stoecker WV et al., Comput Med Imaging Graph 1992;16:191 (asymmetry index, non-overlapping area / area)"
FRIEDMAN = "Friedman RJ, Rigel DS, Kopf AW, CA Cancer J Clin 1985;35:130 (ABCD: diameter > 6 mm)"
ABBASI = "Abbasi NR et al., JAMA 2004;292:2771 (ABCDE: E for evolving)"
COMPACTNESS = "Compactness index P^2/(4 pi A) (Maglogiannis & Doukas, IEEE Trans Inf Technol Biomed 2009;13:721)"
CONVEXITY = "Perimeter / convex-hull perimeter (inverse of convexity, Russ, The Image Processing Handbook)"
OPERATING = "MediLens's own operating threshold, not a published cut-off"

# --- thresholds shared by the catalogue and the rules -----------------------------------------------------
# A: an axis is asymmetric when the mirror image of the lesion about it leaves more than this fraction of
# the lesion's area unmatched, or when its two halves differ in mean colour by more than this Delta E*ab.
SHAPE_ASYMMETRY_THRESHOLD = 0.10  # MediLens's own
COLOUR_ASYMMETRY_THRESHOLD = 10.0  # MediLens's own
IRREGULARITY_THRESHOLD = 1.10  # B of the clinical checklist: MediLens's own
COLOUR_CRITERION = 3  # C of the clinical checklist, 3 or more colours: MediLens's own
DIAMETER_CRITERION_MM = 6.0  # D: Friedman, Rigel & Kopf 1985
DIAMETER_GROWTH_MM = 1.0  # E: MediLens's own
AREA_GROWTH_PERCENT = 25.0  # E: MediLens's own

TDS_BENIGN_BELOW = 4.75  # Stolz 1994
TDS_SUSPICIOUS_UP_TO = 5.45  # Stolz 1994: 5.45 itself is still "suspicious"
# Stolz's categories as risk bands: benign = low, suspicious = intermediate, highly suspicious = high.
TDS_BANDS = RiskBands(
    ((TDS_BENIGN_BELOW, INTERMEDIATE), (TDS_SUSPICIOUS_UP_TO, HIGH)), source=STOLZ_BANDS, above=frozenset({HIGH})
)

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "lesion_asymmetry_score",
            "Asymmetry (axes, A)",
            "lesion_shape",
            "axes",
            f"{STOLZ}; an axis counts as asymmetric when its shape index exceeds {SHAPE_ASYMMETRY_THRESHOLD:.2f} or "
            f"its halves differ by more than Delta E {COLOUR_ASYMMETRY_THRESHOLD:g}: {OPERATING}",
            reference_high=0,
            decimals=0,
        ),
        BiomarkerSpec(
            "lesion_asymmetry_index",
            "Shape asymmetry index",
            "lesion_shape",
            "fraction",
            f"{STOECKER}; {SHAPE_ASYMMETRY_THRESHOLD:.2f}: {OPERATING}",
            reference_high=SHAPE_ASYMMETRY_THRESHOLD,
            decimals=3,
        ),
        BiomarkerSpec(
            "border_irregularity_index",
            "Border irregularity index",
            "lesion_border",
            "ratio",
            f"{CONVEXITY}; {IRREGULARITY_THRESHOLD:.2f}: {OPERATING}",
            reference_high=IRREGULARITY_THRESHOLD,
            decimals=2,
        ),
        BiomarkerSpec(
            "border_compactness_index",
            "Compactness index",
            "lesion_border",
            "ratio",
            f"{COMPACTNESS} (also rises with elongation: no cut-off, shown for trend)",
            decimals=2,
        ),
        BiomarkerSpec(
            "border_abrupt_segments",
            "Abrupt border segments (B)",
            "lesion_border",
            "segments",
            f"{STOLZ}; abruptness measured as described in modalities/dermatology/measurement.py ({OPERATING})",
            decimals=0,
        ),
        BiomarkerSpec(
            "colour_count",
            "Colours present (C)",
            "lesion_colour",
            "colours",
            f"{STOLZ} (six colours; their reference values and the 5% floor are MediLens's own); "
            f"{COLOUR_CRITERION} or more as the clinical C: {OPERATING}",
            reference_high=COLOUR_CRITERION - 1,
            decimals=0,
        ),
        BiomarkerSpec(
            "lesion_diameter",
            "Diameter (max Feret)",
            "lesion_size",
            "mm",
            FRIEDMAN,
            reference_high=DIAMETER_CRITERION_MM,
            decimals=1,
        ),
        BiomarkerSpec(
            "lesion_diameter_pixels",
            "Diameter (max Feret, no scale)",
            "lesion_size",
            "px",
            "Max Feret diameter in pixels of the uploaded photo: no scale was given, so no range applies",
            decimals=0,
        ),
        BiomarkerSpec(
            "lesion_area",
            "Lesion area",
            "lesion_size",
            "mm2",
            "Area of the segmented lesion (no range)",
            decimals=1,
        ),
        BiomarkerSpec(
            "total_dermoscopy_score",
            "Stolz total dermoscopy score (TDS)",
            "dermoscopy_score",
            "points",
            STOLZ,
            # Flagged in Stolz's categories, as the risk level reads them: 4.75 is already suspicious
            # ("intermediate"), 5.45 is not yet highly suspicious.
            bands=TDS_BANDS,
            decimals=1,  # every attainable TDS is a multiple of 0.1
        ),
        BiomarkerSpec(
            "lesion_diameter_change",
            "Diameter change since last photo",
            "lesion_evolution",
            "mm",
            f"{ABBASI}; growth of more than {DIAMETER_GROWTH_MM:g} mm: {OPERATING}",
            reference_high=DIAMETER_GROWTH_MM,
            decimals=1,
        ),
        BiomarkerSpec(
            "lesion_area_change",
            "Area change since last photo",
            "lesion_evolution",
            "%",
            f"{ABBASI}; growth of more than {AREA_GROWTH_PERCENT:g}%: {OPERATING}",
            reference_high=AREA_GROWTH_PERCENT,
            decimals=0,
        ),
    ]
}
