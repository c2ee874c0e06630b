"""DICOM chest radiographs: what we accept, and de-identification before anything is stored.

Accepted: single-frame greyscale (MONOCHROME1/2) images whose Modality is CR (computed radiography) or DX
(digital radiography): the two DICOM modalities of projection chest radiographs ("DR" is not a DICOM
modality code: flat-panel systems write DX). Everything else (MR, CT, US, a secondary capture "OT" ...) is
refused, as are lateral or oblique views when ViewPosition says so (the model reads frontal PA/AP images),
a BodyPartExamined other than the chest, multi-frame objects, and images whose BurnedInAnnotation is YES
(text burned into the pixels can carry identifiers that no header edit removes).

De-identification before storage is in ``deidentify``.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..base import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy
    from pydicom.dataset import Dataset

logger = logging.getLogger(__name__)

ACCEPTED_MODALITIES = {"CR": "computed radiography", "DX": "digital radiography"}
MODALITY_NAMES = {
    "MR": "magnetic resonance",
    "CT": "computed tomography",
    "US": "ultrasound",
    "NM": "nuclear medicine",
    "PT": "PET",
    "MG": "mammography",
    "XA": "X-ray angiography",
    "RF": "radiofluoroscopy",
    "OT": "other (e.g. a secondary capture)",
    "SC": "secondary capture",
    "IO": "intra-oral radiography",
    "PX": "panoramic X-ray",
    "OP": "ophthalmic photography",
}
FRONTAL_VIEWS = {"PA", "AP"}
CHEST_BODY_PARTS = {"CHEST", "THORAX", "LUNG"}
MIN_SIDE = 256
MAX_ASPECT_RATIO = 3.0


@dataclass(frozen=True)
class CheckedDicom:
    """A DICOM file that passed the checks: the parsed dataset and its decoded stored values."""

    dataset: Dataset
    pixels: numpy.ndarray


def _refuse(name: str, message: str) -> InputError:
    return InputError({"files": f"{name}: {message}"})


def read(data: bytes, *, name: str = "image.dcm", decode: bool = True) -> Dataset:
    """Parse DICOM bytes; raise InputError (not pydicom's exceptions, which may quote values) if they are
    not a complete DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(io.BytesIO(data))
        except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, struct.error):
            raise _refuse(name, "the DICOM file is truncated or corrupt and cannot be read.") from None
        except Exception:  # noqa: BLE001 - a parser surprise on hostile bytes is still the user's bad file
            logger.warning("pydicom could not parse an upload", exc_info=True)
            raise _refuse(name, "the DICOM file is truncated or corrupt and cannot be read.") from None
    if any("End of file" in str(w.message) or "truncat" in str(w.message).lower() for w in caught):
        raise _refuse(name, "the DICOM file is truncated (it ends before its last element).")
    if "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
        raise _refuse(name, "the DICOM file has no transfer syntax in its file meta information (corrupt).")
    return dataset


def check(dataset: Dataset, *, name: str, max_pixels: int) -> CheckedDicom:
    """Refuse (InputError) what this analysis cannot read; decode the pixels to prove they are complete."""
    if "PixelData" not in dataset:
        raise _refuse(name, "the DICOM file holds no pixel data (truncated, or not an image).")
    modality = str(dataset.get("Modality", "") or "").strip().upper()
    if not modality:
        raise _refuse(name, "the DICOM file does not state its modality; this analysis reads CR or DX radiographs.")
    if modality not in ACCEPTED_MODALITIES:
        what = MODALITY_NAMES.get(modality, "not a radiograph")
        raise _refuse(
            name,
            f"the DICOM modality is {modality} ({what}); this analysis reads chest radiographs (modality CR or DX).",
        )
    if str(dataset.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        raise _refuse(
            name,
            "the image has burned-in annotation (BurnedInAnnotation is YES): text in the pixels can identify "
            "the patient and cannot be removed here. Export the image without burned-in text.",
        )
    body_part = str(dataset.get("BodyPartExamined", "") or "").strip().upper()
    if body_part and body_part not in CHEST_BODY_PARTS:
        raise _refuse(name, f"the body part examined is {body_part}; this analysis reads chest radiographs.")
    view = str(dataset.get("ViewPosition", "") or "").strip().upper()
    if view and view not in FRONTAL_VIEWS:
        raise _refuse(name, f"the view position is {view}; this analysis reads frontal (PA or AP) chest radiographs.")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise _refuse(name, f"the DICOM object has {frames} frames; upload a single-frame radiograph.")
    photometric = str(dataset.get("PhotometricInterpretation", "") or "").strip().upper()
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise _refuse(
            name,
            f"the image is {photometric or 'of an unstated photometric interpretation'} with {samples} sample(s) "
            "per pixel; a radiograph is greyscale (MONOCHROME1 or MONOCHROME2).",
        )
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        bits_stored = int(dataset.BitsStored)
    except (AttributeError, TypeError, ValueError):
        raise _refuse(
            name, "the DICOM image does not state its size and bit depth (Rows, Columns, BitsStored)."
        ) from None
    check_dimensions(columns, rows, name=name, max_pixels=max_pixels)
    if not 1 <= bits_stored <= 16:
        raise _refuse(name, f"the image stores {bits_stored} bits per pixel; 1 to 16 are supported.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = dataset.pixel_array
    except Exception:  # noqa: BLE001 - any decoder failure is the same answer to the user
        raise _refuse(
            name,
            "the pixel data cannot be decoded: the file is truncated or corrupt, or its compression is not supported.",
        ) from None
    if pixels.shape != (rows, columns):
        raise _refuse(name, f"the decoded image is {pixels.shape}, not the {rows}x{columns} the header states.")
    return CheckedDicom(dataset=dataset, pixels=pixels)


def check_dimensions(width: int, height: int, *, name: str, max_pixels: int) -> None:
    """The same size rules for DICOM and PNG/JPEG inputs."""
    if width * height > max_pixels:
        raise _refuse(
            name, f"the image is {width}x{height} ({width * height:,} pixels); the limit is {max_pixels:,} pixels."
        )
    if min(width, height) < MIN_SIDE:
        raise _refuse(
            name,
            f"the image is {width}x{height} pixels; a chest radiograph for this analysis needs at least "
            f"{MIN_SIDE} pixels on each side.",
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise _refuse(
            name,
            f"the image is {width}x{height} pixels, an aspect ratio above {MAX_ASPECT_RATIO:g}:1 that no chest "
            "radiograph has.",
        )
