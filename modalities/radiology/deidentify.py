"""De-identification of a DICOM radiograph before anything is stored.

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

A kept attribute is still a place a name can be typed into, so none is copied blindly (``_kept``):

* free text goes: no attribute of a free-text VR (AE, LO, LT, PN, SH, ST, UC, UR, UT) is kept, except the two
  LO attributes whose values are codes, Rescale Type and Modality LUT Type, which keep a defined term of PS3.3
  C.11.1.1.2 (OD, HU, US, ...) and become "US" (unspecified) otherwise. Window Center & Width Explanation and
  LUT Explanation, free text that the viewer shows and a technologist may have typed a name into, are not kept;
* a code string (CS) keeps only values of its vocabulary (the Image Type's first two values, ORIGINAL/DERIVED
  and PRIMARY/SECONDARY; the enumerated or defined terms of the others): 16 upper-case characters are enough for
  a surname;
* a number (DS, IS) is kept as the number it reads as, rewritten, or dropped when it is not a finite number; a
  UID (UI) only when it is digits and dots;
* an element written with a VR other than its dictionary's (e.g. a window centre written as text) is dropped.

None of this changes what the analysis reads: windows, LUTs, rescale, geometry and exposure are the same
numbers (a test plants a name, an MRN and a birth date in every such attribute and compares the analysis).

The pixel data element is copied byte for byte (compressed or not) in its original transfer syntax.
Not done (and said so to users): the Clean Pixel Data option (no OCR of burned-in text: such images are
refused when they say so, and an image that carries text without saying so is not detected).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

DEIDENTIFICATION_METHOD = "DICOM PS3.15 Annex E Basic Profile (MediLens allow-list)"  # LO: 64 chars max

# Kept: none of these identifies a person (none is in PS3.15 Table E.1-1 other than as K), and each is kept only
# in the form its definition allows (``_kept``): codes from their vocabulary, numbers as numbers, no free text.
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
    "VOILUTSequence": frozenset({"LUTDescriptor", "LUTData"}),
    "ModalityLUTSequence": frozenset({"LUTDescriptor", "ModalityLUTType", "LUTData"}),
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

FREE_TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
# PS3.3 C.11.1.1.2: the defined terms of Rescale Type (and of Modality LUT Type); "US" is "unspecified".
RESCALE_TYPES = frozenset({"OD", "HU", "US", "MGML", "Z_EFF", "ED", "EDW", "HU_MOD", "PCT"})
UNSPECIFIED = "US"
# The vocabularies of the kept code strings (PS3.3: enumerated values or defined terms). A pattern where the
# terms follow one (orientation letters, ISO standard numbers, character set names).
CODES = {
    "Modality": frozenset({"CR", "DX"}),
    "PresentationIntentType": frozenset({"FOR PRESENTATION", "FOR PROCESSING"}),
    "BodyPartExamined": frozenset({"CHEST", "THORAX", "LUNG"}),
    "ViewPosition": frozenset({"PA", "AP"}),
    "ImageLaterality": frozenset({"R", "L", "U", "B"}),
    "Laterality": frozenset({"R", "L"}),
    "QualityControlImage": frozenset({"YES", "NO", "BOTH"}),
    "BurnedInAnnotation": frozenset({"YES", "NO"}),
    "RecognizableVisualFeatures": frozenset({"YES", "NO"}),
    "LossyImageCompression": frozenset({"00", "01"}),
    "PhotometricInterpretation": frozenset({"MONOCHROME1", "MONOCHROME2"}),
    "PixelIntensityRelationship": frozenset({"LIN", "LOG", "DISP"}),
    "VOILUTFunction": frozenset({"LINEAR", "LINEAR_EXACT", "SIGMOID"}),
    "PresentationLUTShape": frozenset({"IDENTITY", "INVERSE"}),
    "Grid": frozenset({"IN", "NONE", "FIXED", "FOCUSED", "RECIPROCATING", "PARALLEL", "CROSSED"}),
    "DetectorType": frozenset({"DIRECT", "SCINTILLATOR", "STORAGE", "FILM"}),
    "PixelSpacingCalibrationType": frozenset({"GEOMETRY", "FIDUCIAL"}),
    "PatientOrientation": re.compile(r"[APRLHF]{1,3}"),
    "LossyImageCompressionMethod": re.compile(r"ISO_\d{4,5}_\d{1,2}"),
    "SpecificCharacterSet": re.compile(r"(ISO_IR \d{1,3}|ISO 2022 IR \d{1,3}|GB18030|GBK)?"),
    "RescaleType": RESCALE_TYPES,
    "ModalityLUTType": RESCALE_TYPES,
}
IMAGE_TYPE = (frozenset({"ORIGINAL", "DERIVED"}), frozenset({"PRIMARY", "SECONDARY"}))
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def _values(element) -> list:
    value = element.value
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _in_vocabulary(keyword: str, value: str) -> bool:
    vocabulary = CODES[keyword]
    if isinstance(vocabulary, re.Pattern):
        return vocabulary.fullmatch(value) is not None
    return value in vocabulary


def _codes(element) -> list[str] | None:
    """The values of a coded element that belong to its vocabulary; None when none does."""
    values = [str(value).strip().upper() for value in _values(element)]
    if element.keyword == "ImageType":
        # Values 3 and later are implementation-specific free text: only the first two are kept.
        kept = [value for value, allowed in zip(values, IMAGE_TYPE, strict=False) if value in allowed]
        return kept if len(kept) == len(IMAGE_TYPE) else None
    kept = [value for value in values if _in_vocabulary(element.keyword, value)]
    return kept or None


def _numbers(element) -> list | None:
    """The element's values as numbers (int for IS), or None when one of them is not a finite number."""
    numbers = []
    for value in _values(element):
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        if not math.isfinite(number) or (element.VR == "IS" and number != int(number)):
            return None
        numbers.append(int(number) if element.VR == "IS" else number)
    return numbers


def _rebuilt(element, values: list) -> DataElement:
    from pydicom.dataelem import DataElement

    return DataElement(element.tag, element.VR, values[0] if len(values) == 1 else values)


def _kept(element) -> DataElement | None:
    """The element as it may be stored (see the module docstring), or None to leave it out."""
    from pydicom.datadict import dictionary_VR

    defined = dictionary_VR(element.tag)  # e.g. "US or SS", which pydicom may leave unresolved
    if element.VR != defined and element.VR not in defined.split(" or "):
        return None
    keyword = element.keyword
    if keyword in ("RescaleType", "ModalityLUTType"):
        codes = _codes(element)
        return _rebuilt(element, codes or [UNSPECIFIED])
    if keyword == "ImageType" or keyword in CODES:
        codes = _codes(element)
        return _rebuilt(element, codes) if codes else None
    if element.VR in FREE_TEXT_VRS or element.VR == "CS":
        return None  # free text, or a code string without a known vocabulary
    if element.VR in ("DS", "IS"):
        numbers = _numbers(element)
        return _rebuilt(element, numbers) if numbers else None
    if element.VR == "UI":
        return element if _UID.fullmatch(str(element.value or "")) else None
    return element


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
                inner = _kept(inner)
                if inner is not None:
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
            element = _kept(element)
            if element is not None:
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
    source_class = str(source_meta.get("MediaStorageSOPClassUID", "") or "")
    meta.MediaStorageSOPClassUID = clean.get("SOPClassUID") or (source_class if _UID.match(source_class) else None)
    meta.MediaStorageSOPInstanceUID = clean.SOPInstanceUID
    meta.TransferSyntaxUID = source_meta.TransferSyntaxUID
    clean.file_meta = meta
    clean.preamble = b"\x00" * 128
    buffer = io.BytesIO()
    dcmwrite(buffer, clean, enforce_file_format=True)
    return buffer.getvalue()
