"""Generated chest radiographs for the demo, the tests and the benchmark.

The pictures come from the generator the reference model was trained on
(``modalities.management.commands.build_reference_model.synthetic_chest``): drawn lung fields, ribs and
mediastinum, with or without a drawn opacity. They are not radiographs of anyone. The DICOM files carry
fake identifying attributes (patient, institution, physicians, dates, UIDs, a private tag, a nested
sequence and a non-empty preamble) that the upload must strip: ``FAKE_IDENTITY`` lists the values a test
looks for in the stored bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..base import DemoCase

if TYPE_CHECKING:  # pragma: no cover
    import numpy

FAKE_IDENTITY = {
    "PatientName": "ZZTEST^ALICE^MARIE",
    "PatientID": "MRN-7781-2231",
    "PatientBirthDate": "19610214",
    "OtherPatientIDs": "OTHER-4455-9911",
    "PatientAddress": "17 Quarry Lane, Testville",
    "PatientTelephoneNumbers": "+44-555-0199-321",
    "InstitutionName": "Saint Example General Hospital",
    "InstitutionAddress": "1 Infirmary Road, Exampleton",
    "ReferringPhysicianName": "REFERRER^XAVIER",
    "PerformingPhysicianName": "PERFORMER^YOLANDA",
    "OperatorsName": "OPERATOR^ZEBEDEE",
    "AccessionNumber": "ACC-55443322",
    "StudyID": "STUDY-8080-11",
    "StudyDate": "20240315",
    "SeriesDate": "20240316",
    "AcquisitionDate": "20240317",
    "ContentDate": "20240318",
    "StudyTime": "101112",
    "StationName": "STATION-CXR-77",
    "DeviceSerialNumber": "SN-99887766",
    "StudyDescription": "CHEST PA FOR ALICE ZZTEST",
    "ImageComments": "patient ZZTEST in bay 4",
}
FAKE_PRIVATE_VALUE = "PRIVATE-ZZTEST-ALICE"
FAKE_PREAMBLE = b"PREAMBLE ZZTEST ALICE MRN-7781-2231"
FAKE_NESTED_ID = "NESTED-MRN-31337"


def chest_image(seed: int, *, opacity: bool, size: int = 1024) -> numpy.ndarray:
    """A generated chest-like image, float32 HxW in 0..1, white = dense."""
    import numpy as np

    from modalities.management.commands.build_reference_model import synthetic_chest

    return synthetic_chest(np.random.default_rng(seed), opacity=opacity, size=size)


def dicom_bytes(
    picture,
    *,
    modality: str = "DX",
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    transfer_syntax: str | None = None,
    identifying: bool = True,
    window: tuple[float, float] | None = (2048.0, 4096.0),
    view_position: str = "PA",
    uids: dict[str, str] | None = None,
    **attributes,
) -> bytes:
    """A DICOM radiograph from a 0..1 picture (white = dense): stored values scaled to ``bits_stored``,
    inverted for MONOCHROME1. ``attributes`` are set as given (e.g. BurnedInAnnotation="YES")."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    maximum = 2**bits_stored - 1
    values = np.asarray(picture, dtype=np.float64)
    if photometric == "MONOCHROME1":
        values = 1.0 - values
    stored = np.round(np.clip(values, 0, 1) * maximum).astype(np.uint16)
    uids = uids or {}
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = uids.get("SOPInstanceUID") or generate_uid()
    ds.StudyInstanceUID = uids.get("StudyInstanceUID") or generate_uid()
    ds.SeriesInstanceUID = uids.get("SeriesInstanceUID") or generate_uid()
    ds.FrameOfReferenceUID = uids.get("FrameOfReferenceUID") or generate_uid()
    ds.Modality = modality
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BodyPartExamined = "CHEST"
    if view_position:
        ds.ViewPosition = view_position
    ds.PatientOrientation = ["L", "F"]
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.KVP = 120
    if identifying:
        for keyword, value in FAKE_IDENTITY.items():
            setattr(ds, keyword, value)
        ds.PatientSex = "F"
        block = ds.private_block(0x0029, "ACME RADIOLOGY 1.0", create=True)
        block.add_new(0x10, "LO", FAKE_PRIVATE_VALUE)
        other = Dataset()
        other.PatientID = FAKE_NESTED_ID
        other.TypeOfPatientID = "TEXT"
        ds.OtherPatientIDsSequence = [other]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if identifying:
        ds.file_meta.SourceApplicationEntityTitle = "ZZTESTHOSP"
        ds.preamble = FAKE_PREAMBLE.ljust(128, b"\x00")
    ds.PixelData = stored.tobytes()
    if transfer_syntax and transfer_syntax != ExplicitVRLittleEndian:
        ds.compress(transfer_syntax, stored)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def picture_bytes(picture, *, format: str = "PNG", bits: int = 8) -> bytes:
    """A PNG (8 or 16 bit) or JPEG (8 bit, quality 95) of a 0..1 picture."""
    import numpy as np
    from PIL import Image

    values = np.clip(np.asarray(picture, dtype=np.float64), 0, 1)
    if bits == 16:
        pil = Image.fromarray(np.round(values * 65535).astype(np.uint16))
    else:
        pil = Image.fromarray(np.round(values * 255).astype(np.uint8))
    buffer = io.BytesIO()
    pil.save(buffer, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return buffer.getvalue()


def demo_cases() -> list[DemoCase]:
    """Three demo radiographs: a DX DICOM without opacity, a CR DICOM (MONOCHROME1, JPEG 2000 lossless)
    with one, and an 8-bit PNG with one. The DICOM files carry fake identifiers the upload strips."""
    from pydicom.uid import JPEG2000Lossless

    clear = dicom_bytes(chest_image(101, opacity=False), ExposureIndex=420.0, TargetExposureIndex=400.0)
    opacity_cr = dicom_bytes(
        chest_image(202, opacity=True),
        modality="CR",
        photometric="MONOCHROME1",
        transfer_syntax=JPEG2000Lossless,
        DeviationIndex=-1.4,
    )
    opacity_png = picture_bytes(chest_image(303, opacity=True))
    return [
        DemoCase(files=[("chest_pa_clear.dcm", clear)]),
        DemoCase(files=[("chest_cr_opacity.dcm", opacity_cr)]),
        DemoCase(files=[("chest_opacity.png", opacity_png)]),
    ]
