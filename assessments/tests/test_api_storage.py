"""Uploads through the API into the S3 test server: keys without PHI, hashes, metadata stripped
losslessly, presigned five-minute downloads (audited, tenant-checked, signed for the public endpoint)."""

import copy
import hashlib
import io
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.test import override_settings
from PIL import Image, PngImagePlugin

from accounts.tenancy import scopes_disabled
from assessments.models import UploadedFile
from audit.models import AuditEvent

from .helpers_api import (
    GOFF_WHITE_FEMALE,
    PDF,
    assert_error,
    jpeg_bytes,
    make_patient,
    multipart_create,
    s3_client,
    scan_data,
    upload,
)

pytestmark = pytest.mark.django_db

KEY = re.compile(r"^org/(\d+)/assessments/([0-9a-f-]{36})/([0-9a-f]{32})\.(pdf|jpg|png)$")
GPS = 0x8825


def _submit(tenant, *files):
    patient = make_patient(tenant, given_name="Zelda", family_name="Phiname", mrn="PHI-12345")
    response = tenant.api("clinician").post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=list(files)),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    with scopes_disabled():
        rows = list(UploadedFile.objects.filter(assessment_id=body["id"]).order_by("created_at"))
    return body, rows


def _stored(s3_server, bucket, key) -> bytes:
    return s3_client(s3_server).get_object(Bucket=bucket, Key=key)["Body"].read()


def _exif_jpeg(width=40, height=20, orientation=None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0110] = "Model 7"  # Model
    exif[GPS] = {1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)}
    if orientation:
        exif[0x0112] = orientation
    return jpeg_bytes(width, height, exif=exif)


def test_an_attachment_lands_under_a_key_without_phi_with_its_hash(tenant_a, s3_server, s3_bucket):
    body, [row] = _submit(tenant_a, upload("Zelda Phiname PHI-12345 referral.pdf", PDF))
    match = KEY.match(row.storage_key)
    assert match, row.storage_key
    assert match.group(1) == str(tenant_a.organization.pk) and match.group(2) == body["id"]
    assert match.group(4) == "pdf"
    for phi in ("Zelda", "Phiname", "PHI-12345", "referral"):
        assert phi not in row.storage_key
    assert row.original_filename == "Zelda Phiname PHI-12345 referral.pdf"
    stored = _stored(s3_server, s3_bucket, row.storage_key)
    assert stored == PDF
    assert hashlib.sha256(stored).hexdigest() == row.sha256_stored == row.sha256_original
    # Private: the object is not readable without a signature.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_server.endpoint_url}/{s3_bucket}/{row.storage_key}", timeout=10)
    assert refused.value.code == 403


def test_a_jpeg_is_stored_without_exif_and_with_its_scan_data_untouched(tenant_a, s3_server, s3_bucket):
    original = _exif_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get(0x010F) == "SpyCam Inc."
    _, [row] = _submit(tenant_a, upload("camera.jpg", original, "image/jpeg"))
    assert row.content_type == "image/jpeg" and row.storage_key.endswith(".jpg")
    stored = _stored(s3_server, s3_bucket, row.storage_key)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (40, 20)
    assert not dict(image.getexif()) and not image.getexif().get_ifd(GPS)
    assert b"SpyCam" not in stored and b"Exif\x00\x00" not in stored
    # Not re-compressed: the entropy-coded data is byte for byte the original's.
    assert scan_data(stored) == scan_data(original)
    assert row.sha256_original == hashlib.sha256(original).hexdigest()
    assert row.sha256_stored == hashlib.sha256(stored).hexdigest() != row.sha256_original
    assert row.size == len(stored)


def test_a_rotated_jpeg_is_stored_upright_as_png(tenant_a, s3_server, s3_bucket):
    original = _exif_jpeg(40, 20, orientation=6)
    _, [row] = _submit(tenant_a, upload("sideways.jpg", original, "image/jpeg"))
    assert row.content_type == "image/png" and row.storage_key.endswith(".png")
    stored = Image.open(io.BytesIO(_stored(s3_server, s3_bucket, row.storage_key)))
    assert stored.format == "PNG" and stored.size == (20, 40)
    assert not dict(stored.getexif()) and "exif" not in stored.info
    # Lossless: the pixels are the decoded JPEG's, rotated.
    expected = Image.open(io.BytesIO(original)).convert("RGB").transpose(Image.Transpose.ROTATE_270)
    assert stored.convert("RGB").tobytes() == expected.tobytes()


def test_a_png_loses_its_text_chunks(tenant_a, s3_server, s3_bucket):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Patient Zelda Phiname, MRN PHI-12345")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buffer, format="PNG", pnginfo=info)
    _, [row] = _submit(tenant_a, upload("scan.png", buffer.getvalue(), "image/png"))
    stored = _stored(s3_server, s3_bucket, row.storage_key)
    assert b"PHI-12345" not in stored
    image = Image.open(io.BytesIO(stored))
    assert "Comment" not in image.info and image.convert("RGB").getpixel((3, 3)) == (0, 0, 255)


def test_download_gives_a_five_minute_presigned_url_and_is_audited(tenant_a, tenant_b, s3_server, s3_bucket):
    _, [row] = _submit(tenant_a, upload("lab report.pdf", PDF))
    response = tenant_a.api("read_only").get(f"/api/v1/files/{row.pk}/download/")  # read-only may see results
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] == 300
    url = body["url"]
    assert url.startswith(s3_server.endpoint_url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"] and query["X-Amz-Signature"][0]
    with urllib.request.urlopen(url, timeout=10) as download:
        assert download.read() == PDF
        # The display name, not the uploaded one (issue 10).
        assert f'filename="{row.display_name}"' in download.headers["Content-Disposition"]
        assert "lab report" not in url and "lab report" not in download.headers["Content-Disposition"]
    event = AuditEvent.objects.get(action="file.download_url_issued", target_id=str(row.pk))
    assert event.actor_api_client_id == tenant_a.api_clients["read_only"].pk
    assert event.details["assessment_id"] == str(row.assessment_id) and event.details["ttl_seconds"] == 300

    # A tampered URL is refused by the object store: another key, or a changed expiry.
    other_key = url.replace(row.storage_key, row.storage_key[:-6] + "000000")
    longer = url.replace("X-Amz-Expires=300", "X-Amz-Expires=86400")
    for tampered in (other_key, longer):
        assert tampered != url
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=10)
        assert refused.value.code == 403

    # Another tenant's file id is a 404, and nothing is issued or audited for it.
    assert_error(tenant_b.api("clinician").get(f"/api/v1/files/{row.pk}/download/"), 404, code="not_found")
    assert AuditEvent.objects.filter(action="file.download_url_issued", target_id=str(row.pk)).count() == 1


def test_urls_are_signed_for_the_public_endpoint(tenant_a, s3_server, s3_bucket):
    _, [row] = _submit(tenant_a, upload("lab.pdf", PDF))
    public = "http://files.example.test:9000"
    # STORAGES is overridden too so the cached storage (and its signing client) is rebuilt, both ways.
    with override_settings(STORAGES=copy.deepcopy(settings.STORAGES), AWS_S3_PUBLIC_ENDPOINT_URL=public):
        response = tenant_a.api("clinician").get(f"/api/v1/files/{row.pk}/download/")
    url = response.json()["url"]
    assert url.startswith(public + "/"), url
    assert "X-Amz-Signature=" in url
    # The signature is for the public host: the server accepts it when the request names that host.
    parts = urllib.parse.urlsplit(url)
    via_internal = f"{s3_server.endpoint_url}{parts.path}?{parts.query}"
    request = urllib.request.Request(via_internal, headers={"Host": "files.example.test:9000"})
    with urllib.request.urlopen(request, timeout=10) as download:
        assert download.read() == PDF
    with pytest.raises(urllib.error.HTTPError) as wrong_host:  # the host is part of what is signed
        urllib.request.urlopen(via_internal, timeout=10)
    assert wrong_host.value.code == 403
    # Back to normal once the override ends.
    again = tenant_a.api("clinician").get(f"/api/v1/files/{row.pk}/download/").json()["url"]
    assert again.startswith(s3_server.endpoint_url)
