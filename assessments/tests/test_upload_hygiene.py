"""Issue 10, upload hygiene: a stored JPEG is its first frame only, without MPF or anything appended (a
phone's second image with its own EXIF and GPS, an HTML polyglot, trailing bytes), its ICC profile and
compressed data kept byte for byte; files are known by neutral names; one request's files have a total cap.

The phone photos are built here from Pillow-written JPEGs and raw bytes laid out as CIPA DC-007 (Multi-
Picture Format) describes: an MP Index IFD in an APP2 "MPF" segment of the first image, whose entries give
each image's size and offset, and the second image appended after the first one's end-of-image marker."""

import io
import struct

import pytest
from django.test import override_settings
from django.utils import timezone
from PIL import Image, ImageCms

from accounts.roles import Role
from accounts.tenancy import scopes_disabled
from assessments.models import UploadedFile

from .helpers_api import (
    GOFF_WHITE_FEMALE,
    PDF,
    assert_error,
    make_patient,
    multipart_create,
    noise_image,
    nothing_stored,
    s3_client,
    upload,
)

pytestmark = pytest.mark.django_db

ARTIST, MRN, GPS_IFD = "John Q Patient", "MRN 4471-2209", 0x8825
PLANTED = (ARTIST.encode(), MRN.encode(), b"Exif\x00\x00", b"MPF\x00", b"<html", b"PhoneMaker")


def _exif(artist: str) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = artist  # Artist
    exif[0x010E] = f"Ward 4, {MRN}"  # ImageDescription
    exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 11.0), 3: "E", 4: (4.0, 53.0, 27.0)}
    return exif


# Built once: a profile made by littlecms carries its creation time.
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **params)
    return buffer.getvalue()


def _after_app_segments(jpeg: bytes) -> int:
    """Where the first non-APPn segment starts (phones put the MPF APP2 among the APP segments)."""
    pos = 2
    while 0xE0 <= jpeg[pos + 1] <= 0xEF:
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return pos


def _mpf_segment(first_size: int, second_size: int, second_offset: int) -> bytes:
    """APP2 "MPF": a big-endian MP header, the MP Index IFD (version, number of images, MP entries) and
    two 16-byte MP entries. Offsets count from the MP header's byte-order mark; the first image's is 0."""
    entries_offset = 8 + 2 + 3 * 12 + 4
    ifd = struct.pack(">H", 3)
    ifd += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")  # MPFVersion
    ifd += struct.pack(">HHII", 0xB001, 4, 1, 2)  # NumberOfImages
    ifd += struct.pack(">HHII", 0xB002, 7, 32, entries_offset)  # MPEntry
    ifd += struct.pack(">I", 0)  # no next IFD
    primary = struct.pack(">IIIHH", 0x20030000, first_size, 0, 0, 0)  # representative, baseline MP primary
    preview = struct.pack(">IIIHH", 0x00010001, second_size, second_offset, 0, 0)  # large thumbnail
    payload = b"MPF\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + primary + preview
    return b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload


def phone_photo(*, trailing: bytes = b"") -> tuple[bytes, bytes]:
    """(the whole file, the first image as Pillow wrote it): a first image with EXIF, GPS and an ICC
    profile, an MPF index, a second image with its own EXIF and GPS appended, then ``trailing``."""
    first = _jpeg(noise_image(64, 48), exif=_exif(ARTIST).tobytes(), icc_profile=SRGB_PROFILE)
    second = _jpeg(noise_image(32, 24).transpose(Image.Transpose.FLIP_LEFT_RIGHT), exif=_exif(ARTIST).tobytes())
    at = _after_app_segments(first)
    mpf_length = len(_mpf_segment(0, 0, 0))
    first_size = len(first) + mpf_length
    mp_header = at + 4 + 4  # the APP2 marker and length, then "MPF\0"
    mpf = _mpf_segment(first_size, len(second), first_size - mp_header)
    whole = first[:at] + mpf + first[at:] + second + trailing
    return whole, first


def _stored_attachment(tenant, data: bytes, name: str = "IMG_4471.jpg") -> tuple[bytes, UploadedFile]:
    patient = make_patient(tenant)
    response = tenant.api("clinician").post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload(name, data, "image/jpeg")),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    with scopes_disabled():
        row = UploadedFile.objects.get(assessment_id=response.json()["id"])
    return row, response.json()


def _object(s3_server, s3_bucket, key) -> bytes:
    return s3_client(s3_server).get_object(Bucket=s3_bucket, Key=key)["Body"].read()


def _from_first_scan(jpeg: bytes) -> bytes:
    return jpeg[jpeg.index(b"\xff\xda") :]


def test_the_phone_photo_fixture_is_a_real_multi_picture_file():
    """The test's photo reads as Pillow reads a phone's: two frames found through the MPF index."""
    whole, _ = phone_photo()
    image = Image.open(io.BytesIO(whole))
    assert image.format == "MPO" and image.n_frames == 2
    image.seek(1)
    assert image.size == (32, 24)
    assert image.getexif().get(0x013B) == ARTIST and image.getexif().get_ifd(GPS_IFD)


def test_a_phone_photo_is_stored_as_its_first_frame_without_mpf_or_the_appended_image(
    tenant_a, s3_server, s3_bucket
):
    polyglot = b"<html><body><script>alert(1)</script>" + ARTIST.encode() + b"</body></html>\n\x00\x01"
    whole, first = phone_photo(trailing=polyglot)
    row, _ = _stored_attachment(tenant_a, whole)
    stored = _object(s3_server, s3_bucket, row.storage_key)
    for planted in PLANTED:
        assert planted not in stored, planted
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and getattr(image, "n_frames", 1) == 1
    assert not dict(image.getexif()) and not image.getexif().get_ifd(GPS_IFD)
    # The colour profile stays (colour analyses need it).
    assert image.info.get("icc_profile") == SRGB_PROFILE
    # The pixels decode identically, and the compressed data is the first image's, byte for byte.
    assert image.convert("RGB").tobytes() == Image.open(io.BytesIO(first)).convert("RGB").tobytes()
    assert _from_first_scan(stored) == _from_first_scan(first)
    assert stored.endswith(b"\xff\xd9") and row.size == len(stored)


def test_bytes_after_the_end_of_image_marker_are_not_stored(tenant_a, s3_server, s3_bucket):
    original = _jpeg(noise_image(40, 30))
    row, _ = _stored_attachment(tenant_a, original + b"<html><body>" + MRN.encode() + b"</body></html>")
    assert _object(s3_server, s3_bucket, row.storage_key) == original


def test_a_progressive_jpeg_with_restart_markers_keeps_every_scan_byte_for_byte(tenant_a, s3_server, s3_bucket):
    """Several scans with Huffman tables between them, 0xFF00 stuffing and RSTn markers inside the
    entropy-coded data: all of it is image data and stays as it was."""
    original = _jpeg(
        noise_image(96, 64), progressive=True, restart_marker_blocks=3, exif=_exif(ARTIST).tobytes()
    )
    assert original.count(b"\xff\xda") > 1 and b"\xff\xd0" in original and b"\xff\x00" in original
    row, _ = _stored_attachment(tenant_a, original + b"trailing bytes " + MRN.encode())
    stored = _object(s3_server, s3_bucket, row.storage_key)
    assert ARTIST.encode() not in stored and MRN.encode() not in stored
    assert _from_first_scan(stored) == _from_first_scan(original)
    decoded = Image.open(io.BytesIO(stored)).convert("RGB").tobytes()
    assert decoded == Image.open(io.BytesIO(original)).convert("RGB").tobytes()


# --- neutral names -----------------------------------------------------------------------------------
def test_the_uploaded_name_is_neither_returned_nor_shown_nor_in_the_key(tenant_a, s3_server, s3_bucket):
    name = "Okafor Ada MRN-0042 referral.pdf"
    patient = make_patient(tenant_a)
    response = tenant_a.api("clinician").post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload(name, PDF, "application/pdf")),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    with scopes_disabled():
        row = UploadedFile.objects.get(assessment_id=body["id"])
    expected = f"cvd-risk-document-{timezone.localdate():%Y-%m-%d}-1.pdf"
    assert row.display_name == expected and row.original_filename == name  # kept in its column, for now
    for where in (response.content, tenant_a.api("read_only").get(f"/api/v1/assessments/{body['id']}/").content):
        assert b"Okafor" not in where and b"MRN-0042" not in where
    assert body["files"][0]["filename"] == expected
    page = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{body['id']}/").content.decode()
    assert expected in page and "Okafor Ada" not in page and "MRN-0042" not in page
    assert "Okafor" not in row.storage_key and "MRN" not in row.storage_key


def test_files_added_later_continue_the_index(tenant_a):
    patient = make_patient(tenant_a)
    api = tenant_a.api("clinician")
    created = api.post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload("a.pdf", PDF)),
        format="multipart",
    ).json()
    added = api.post(
        f"/api/v1/assessments/{created['id']}/attachments/",
        {"files": [upload("b.pdf", PDF + b"%b"), upload("c.pdf", PDF + b"%c")]},
        format="multipart",
    ).json()
    day = timezone.localdate()
    assert [f["filename"] for f in added] == [f"cvd-risk-document-{day}-2.pdf", f"cvd-risk-document-{day}-3.pdf"]


# --- the per-request cap -----------------------------------------------------------------------------
def test_the_files_of_one_api_request_have_a_total_cap(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a)
    def files():
        return [upload(f"part-{index}.pdf", PDF + b"%" * 3000 + bytes([index])) for index in range(3)]

    with override_settings(MAX_REQUEST_UPLOAD_BYTES=8000), nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            "/api/v1/assessments/",
            multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=files()),
            format="multipart",
        )
    error = assert_error(response, 413, code="request_too_large", field="files")
    assert "limit for one request" in error["message"]
    # Under the cap the same request goes through.
    with override_settings(MAX_REQUEST_UPLOAD_BYTES=20000):
        response = tenant_a.api("clinician").post(
            "/api/v1/assessments/",
            multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=files()),
            format="multipart",
        )
    assert response.status_code == 201, response.content


def test_the_files_of_one_portal_upload_have_a_total_cap(tenant_a, s3_server, s3_bucket):
    from .portal import NothingStored, form_data, pdf_bytes, text
    from .portal import make_patient as make_portal_patient
    from .portal import upload as portal_upload

    patient = make_portal_patient(tenant_a, "CAP-1")
    data = {
        **form_data(),
        "attachments": [portal_upload(f"p{i}.pdf", pdf_bytes() + b"%" * 3000, "application/pdf") for i in range(3)],
    }
    with override_settings(MAX_REQUEST_UPLOAD_BYTES=8000), NothingStored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(
            f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk", data
        )
    assert response.status_code == 413
    assert "the limit for one upload. Nothing was saved." in text(response)
