"""What the explanation image of each modality shows, for its caption, and whether the input photograph can
be shown beside it. Presentation only: the image itself is the analyzer's."""

from __future__ import annotations

from dataclasses import dataclass

# Only what a browser shows as it is: a DICOM or TIFF original is offered as a download instead.
DISPLAYABLE_TYPES = {"image/png", "image/jpeg"}


@dataclass(frozen=True)
class Figure:
    caption: str
    # The image is drawn over (a version of) the input photograph: the original is worth showing beside it.
    over_input: bool


FIGURES = {
    "cardiology": Figure("Rhythm strip of the analysed lead, with the detected beats marked.", False),
    "speech": Figure("The recording's waveform and pitch (F0) contour, with speech and pauses marked.", False),
    "retinal": Figure("Segmented vessels drawn over the photograph, with the optic disc circled.", True),
    "radiology": Figure(
        "Grad-CAM heatmap over the radiograph: the regions that weighed most in the model's output.", True
    ),
    "dermatology": Figure(
        "The lesion's contour (yellow), symmetry axes (cyan) and maximum diameter (magenta), on a "
        "crop around the lesion.",
        True,
    ),
}
DEFAULT = Figure("Computed with the result, from the input.", False)


def figure(modality: str, input_files) -> dict:
    """The caption of the explanation image and the input photograph to show beside it (None when there is
    none a browser can show)."""
    described = FIGURES.get(modality, DEFAULT)
    original = None
    if described.over_input:
        original = next((f for f in input_files if f.content_type in DISPLAYABLE_TYPES), None)
    return {"caption": described.caption, "original": original}
