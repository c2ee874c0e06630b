"""What the chest X-ray analysis reports: image-quality measures and the model's probabilities, with sources.

Labels the catalogue knows: the reference model's, and the 14 CheXpert observations (Irvin et al., AAAI 2019)
for models staff bring. A model's other labels are reported in the result's details, not as biomarkers.
"""

from __future__ import annotations

from ..base import BiomarkerSpec

NORMAL_LABEL = "no_finding"

TG116 = (
    "IEC 62494-1:2008 (DI = 10 log10(EI / EI_T)); ranges from AAPM TG-116, Shepard et al., Med Phys "
    "2009;36:2898, Table II (DI within +/-1 acceptable, below -3 repeat)"
)
CLIPPING_SOURCE = (
    "Share of pixels at the end of the stored value range (saturated detector or export); no established "
    "reference range (MediLens warns above 20 %, its own heuristic)"
)
CONTRAST_SOURCE = (
    "RMS contrast: standard deviation of the normalised display intensities (Peli, J Opt Soc Am A "
    "1990;7:2032); no established reference range for chest radiographs (MediLens refuses below 0.02 and "
    "warns below 0.08, its own heuristics)"
)
MODEL_SOURCE = (
    "Softmax output of the active radiology model; the model name and version are recorded with the result. "
    "0.5 marks a two-class model's decision point, not a clinical reference range; P(no finding) is flagged at "
    "1 - the version's own decision threshold when it states one"
)

MODEL_LABELS = {
    "no_finding": "No finding",
    "opacity": "Opacity",
    "lung_opacity": "Lung opacity",
    "enlarged_cardiomediastinum": "Enlarged cardiomediastinum",
    "cardiomegaly": "Cardiomegaly",
    "lung_lesion": "Lung lesion",
    "edema": "Edema",
    "consolidation": "Consolidation",
    "pneumonia": "Pneumonia",
    "atelectasis": "Atelectasis",
    "pneumothorax": "Pneumothorax",
    "pleural_effusion": "Pleural effusion",
    "pleural_other": "Pleural other",
    "fracture": "Fracture",
    "support_devices": "Support devices",
}


def probability_biomarker(label: str) -> str:
    return f"{label}_probability"


CATALOGUE = {
    spec.name: spec
    for spec in [
        BiomarkerSpec(
            "deviation_index",
            "Exposure deviation index (DI)",
            "image_quality",
            "",
            TG116,
            reference_low=-1.0,
            reference_high=1.0,
            critical_low=-3.0,
            decimals=2,  # TG-116's limits are whole numbers; two decimals show where within them
        ),
        BiomarkerSpec("black_clipping", "Pixels clipped to black", "image_quality", "%", CLIPPING_SOURCE, decimals=2),
        BiomarkerSpec("white_clipping", "Pixels clipped to white", "image_quality", "%", CLIPPING_SOURCE, decimals=2),
        BiomarkerSpec("rms_contrast", "RMS contrast", "image_quality", "", CONTRAST_SOURCE, decimals=3),
        *[
            BiomarkerSpec(
                probability_biomarker(label),
                f"P({text.lower()})",
                "model_output",
                "probability",
                MODEL_SOURCE,
                # 0.5 itself is on the abnormal side, as the level's "P(abnormal) >= threshold"
                **(
                    {"reference_low": 0.5, "abnormal_at": frozenset({"reference_low"})}
                    if label == NORMAL_LABEL
                    else {"reference_high": 0.5, "abnormal_at": frozenset({"reference_high"})}
                ),
                decimals=4,  # a model's output is compared with its threshold; four places keep it unambiguous
            )
            for label, text in MODEL_LABELS.items()
        ],
    ]
}
