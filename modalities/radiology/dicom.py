"""DICOM chest radiographs: what we accept, and de-identification before anything is stored.

Accepted: single-frame greyscale (MONOCHROME1/2) images whose Modality is CR (computed radiography) or DX
(digital radiography): the two DICOM modalities of projection chest radiographs ("DR" is not a DICOM
modality code: flat-panel systems write DX). Everything else (MR, CT, US, a secondary capture "OT" ...) is
refused, as are lateral or oblique views when ViewPosition says so (the model reads frontal PA/AP images),
a BodyPartExamined other than the chest, multi-frame objects, and images whose BurnedInAnnotation is YES
(text burned into the pixels can carry identifiers that no header edit removes).

De-identification follows the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile
(Table E.1-1), implemented as an allow-list, which the profile permits and which is stricter than the
table alone: the new dataset keeps only the attributes listed in ``KEPT`` below (pixel description, VOI /
modality LUTs, acquisition geometry and exposure indicators, none of them in Table E.1-1 or all of them
"K"), so every attribute the table says to remove (X), every private attribute, every overlay and curve
group, and anything a vendor invented is gone. Then, per the table:

* Z (zero-length): the Type 2 attributes of the Patient and General Study modules that a valid object
  must still carry: PatientName, PatientID, PatientBirthDate, PatientSex, StudyDate, StudyTime,
  ReferringPhysicianName, StudyID, AccessionNumber. Other dates and times (content, acquisition, series,
  instance creation: X/Z/D in the table) are removed. Dates are not shifted: that is the separate
  "Retain Longitudinal Temporal Information with Modified Dates" option, which we do not claim;
  LongitudinalTemporalInformationModified says REMOVED.
* U (replace UIDs consistently): Study/Series/SOP Instance and Frame of Reference UIDs become
  ``2.25.<integer>`` UIDs derived from an HMAC (SHA-256) of the original UID keyed with the server's
  secret: the same original UID maps to the same new one across uploads (two images of one study stay one
  study) while nobody without the key can recompute the mapping from a guessed original.
* PatientIdentityRemoved = YES, DeidentificationMethod and DeidentificationMethodCodeSequence
  (DCM 113100 "Basic Application Confidentiality Profile"), as the profile requires.
* The 128-byte preamble (free for applications to use, PS3.10 7.1) is zeroed and the file meta
  information rebuilt (no source AE title, no private information).

The pixel data element is copied byte for byte (compressed or not) in its original transfer syntax.
Not done (and said so to users): the Clean Pixel Data option (no OCR of burned-in text: such images are
refused when they say so, and an image that carries text without saying so is not detected).
"""

from __future__ import annotations

import hashlib
import hmac
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
DEIDENTIFICATION_METHOD = "DICOM PS3.15 Annex E Basic Profile (MediLens allow-list)"  # LO: 64 chars max

# Kept as they are: none of these identifies a person (none is in PS3.15 Table E.1-1 other than as K).
KEPT = frozenset(
    {
        # SOP common / series / image identification (UIDs handled separately, below)
        "SpecificCharacterSet",
        "SOPClassUID",
        "ImageType",
        "Modality",
        "SeriesNumber",
        "InstanceNumber",
        "AcquisitionNumber",
        "PresentationIntentType",
        "BodyPartExamined",
        "ViewPosition",
        "PatientOrientation",
        "ImageLaterality",
        "Laterality",
        "QualityControlImage",
        "BurnedInAnnotation",
        "RecognizableVisualFeatures",
        "LossyImageCompression",
        "LossyImageCompressionRatio",
        "LossyImageCompressionMethod",
        # image pixel module
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "PlanarConfiguration",
        "NumberOfFrames",
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "PixelAspectRatio",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "PixelPaddingValue",
        "PixelPaddingRangeLimit",
        "PixelIntensityRelationship",
        "PixelIntensityRelationshipSign",
        "PixelData",
        # modality and VOI LUT modules, presentation
        "RescaleIntercept",
        "RescaleSlope",
        "RescaleType",
        "WindowCenter",
        "WindowWidth",
        "WindowCenterWidthExplanation",
        "VOILUTFunction",
        "PresentationLUTShape",
        # geometry and exposure (used for quality measures and the results)
        "PixelSpacing",
        "ImagerPixelSpacing",
        "NominalScannedPixelSpacing",
        "PixelSpacingCalibrationType",
        "EstimatedRadiographicMagnificationFactor",
        "DistanceSourceToDetector",
        "DistanceSourceToPatient",
        "KVP",
        "ExposureTime",
        "XRayTubeCurrent",
        "Exposure",
        "ExposureInuAs",
        "RelativeXRayExposure",
        "ExposureIndex",
        "TargetExposureIndex",
        "DeviationIndex",
        "Grid",
        "DetectorType",
    }
)
# Sequences kept, with the attributes kept inside their items.
KEPT_SEQUENCES = {
    "VOILUTSequence": frozenset({"LUTDescriptor", "LUTExplanation", "LUTData"}),
    "ModalityLUTSequence": frozenset({"LUTDescriptor", "ModalityLUTType", "LUTExplanation", "LUTData"}),
}
# Z: present, zero-length (Type 2 in the Patient and General Study modules).
EMPTIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
# U: replaced consistently.
REPLACED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


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


# --- de-identification --------------------------------------------------------------------------------
def replacement_uid(original: str, *, key: bytes) -> str:
    """A 2.25 UID (PS3.5 B.2: a UUID-derived integer) from an HMAC of the original: consistent, not
    reversible without the key. 128 bits of the digest keep it within the UID's 64 characters."""
    digest = hmac.new(key, original.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _filtered_sequence(element, kept: frozenset):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for item in element.value:
        clean = Dataset()
        for inner in item:
            if not inner.tag.is_private and inner.keyword in kept:
                clean.add(inner)
        items.append(clean)
    return Sequence(items)


def deidentify(dataset: Dataset, *, key: bytes) -> bytes:
    """The de-identified file (bytes), pixel data untouched, in the original transfer syntax."""
    from pydicom import dcmwrite
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    clean = Dataset()
    for element in dataset:
        if element.tag.is_private:
            continue
        keyword = element.keyword
        if keyword in KEPT:
            clean.add(element)
        elif keyword in KEPT_SEQUENCES:
            setattr(clean, keyword, _filtered_sequence(element, KEPT_SEQUENCES[keyword]))
    for keyword in EMPTIED:
        setattr(clean, keyword, "")
    for keyword in REPLACED_UIDS:
        original = str(dataset.get(keyword, "") or "")
        if original:
            setattr(clean, keyword, replacement_uid(original, key=key))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        if keyword not in clean:  # Type 1 attributes a source omitted: new ones, random
            setattr(clean, keyword, generate_uid(prefix="2.25."))
    clean.PatientIdentityRemoved = "YES"
    clean.DeidentificationMethod = DEIDENTIFICATION_METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    clean.DeidentificationMethodCodeSequence = [code]
    clean.LongitudinalTemporalInformationModified = "REMOVED"

    source_meta = dataset.file_meta
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = clean.get("SOPClassUID") or source_meta.get("MediaStorageSOPClassUID")
    meta.MediaStorageSOPInstanceUID = clean.SOPInstanceUID
    meta.TransferSyntaxUID = source_meta.TransferSyntaxUID
    clean.file_meta = meta
    clean.preamble = b"\x00" * 128
    buffer = io.BytesIO()
    dcmwrite(buffer, clean, enforce_file_format=True)
    return buffer.getvalue()
