"""What the retinal analysis reports: its biomarkers and where their methods come from.

Neither measure has a reference range: no source gives one for this method at this working size, so they are
stored without one (flag "none"), never "normal". The screening rule and its thresholds are MediLens's own
(``rule``).
"""

from __future__ import annotations

from ..base import BiomarkerSpec

FRANGI = "Frangi et al., MICCAI 1998, LNCS 1496:130-137 (vesselness); CLAHE: Zuiderveld, Graphics Gems IV 1994"
DISTANCE_METRIC = (
    "Distance metric (arc/chord): Hart et al., Int J Med Inform 1999;53:239-252; Grisan et al., IEEE Trans Med "
    "Imaging 2008;27:310-319"
)
NO_RANGE = "no established reference range"
OWN_RULE = (
    "MediLens's own retinal screening rule: thresholds set by MediLens on its own image measurements "
    "(engineering values), not a published score or a clinical guideline"
)

CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "vessel_density",
            "Retinal vessel density",
            "retinal_vasculature",
            "%",
            f"Vessel pixels / field pixels at 1024 px; segmentation: {FRANGI}; {NO_RANGE}",
            # Two decimals: the rule's steps are at whole percentages, and a 0.01% change is ~100 px of vessel.
            decimals=2,
        ),
        BiomarkerSpec(
            "vessel_tortuosity",
            "Retinal vessel tortuosity (arc/chord)",
            "retinal_vasculature",
            "ratio",
            f"Mean over centreline segments; {DISTANCE_METRIC}; {NO_RANGE}",
            # Three decimals: straight vessels measure 1.00-1.02 and the rule's steps are 0.1 apart.
            decimals=3,
        ),
    ]
}

CALIBRE_NOT_MEASURED = (
    "Not estimated: the arteriole-to-venule ratio needs each vessel near the disc classified as artery or vein "
    "and its width measured to a fraction of a pixel; this method does neither reliably."
)
