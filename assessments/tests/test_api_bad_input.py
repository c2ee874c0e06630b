"""Bad input through the API: each a clear 4xx in the one error shape, and nothing stored, neither rows
nor objects in the bucket."""

import io
import json
import uuid
import zipfile

import pytest
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from accounts.tenancy import scopes_disabled
from assessments.models import UploadedFile

from .helpers_api import (
    GOFF_WHITE_FEMALE,
    PDF,
    assert_error,
    bucket_keys,
    create_payload,
    jpeg_bytes,
    make_patient,
    multipart,
    multipart_create,
    nothing_stored,
    png_bytes,
    png_with_declared_size,
    upload,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/assessments/"


@pytest.fixture
def patient(tenant_a):
    return make_patient(tenant_a)


@pytest.fixture
def refused(tenant_a, patient, s3_server, s3_bucket):
    """Post a multipart create with one attachment; assert nothing was stored; return the response."""

    def post(name, data, *, field="attachments", content_type="application/octet-stream"):
        with nothing_stored(s3_server, s3_bucket):
            return tenant_a.api("clinician").post(
                URL,
                multipart_create(patient, inputs=GOFF_WHITE_FEMALE, **{field: upload(name, data, content_type)}),
                format="multipart",
            )

    return post


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", "not a pdf " * 50)
    return buffer.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
WINDOWS_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x80\x00\x00\x00"
    + (b"\x00" * 64 + b"PE\x00\x00\x4c\x01" + b"\x00" * 200)
)


def test_empty_file_is_400(refused):
    error = assert_error(refused("empty.pdf", b""), 400, code="invalid_file", field="files")
    assert "empty" in error["message"]


def test_wrong_magic_bytes_is_415(refused):
    text = b"Dear colleague,\nthis is a letter and not a picture at all.\nKind regards\n"
    error = assert_error(refused("scan.png", text, content_type="image/png"), 415, code="unsupported_file_type")
    assert "text/plain" in error["message"] and "not accepted" in error["message"]


@pytest.mark.parametrize("data", [ELF, WINDOWS_EXE, _zip()], ids=["elf", "exe", "zip"])
def test_a_program_or_archive_named_pdf_is_415(refused, data):
    assert_error(refused("report.pdf", data, content_type="application/pdf"), 415, code="unsupported_file_type")


def test_a_pdf_named_jpg_is_accepted_as_a_pdf(tenant_a, patient, s3_server, s3_bucket):
    """The content decides, not the name or the client's Content-Type."""
    response = tenant_a.api("clinician").post(
        URL,
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=upload("photo.jpg", PDF, "image/jpeg")),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    [file] = response.json()["files"]
    assert file["content_type"] == "application/pdf" and file["filename"].endswith("-1.pdf")
    with scopes_disabled():
        key = UploadedFile.objects.get(pk=file["id"]).storage_key
    assert key.endswith(".pdf") and key in bucket_keys(s3_server, s3_bucket)


def test_oversize_is_413_before_anything_is_stored(refused):
    big = PDF + b"%" + b"0" * (2 * 1024 * 1024)
    with override_settings(MAX_UPLOAD_BYTES=1024 * 1024):
        error = assert_error(refused("big.pdf", big), 413, code="file_too_large", field="files")
    assert "big.pdf" in error["message"]


def test_oversize_on_the_attachments_endpoint_is_413(tenant_a, patient, s3_server, s3_bucket):
    from .helpers_api import make_assessment

    assessment = make_assessment(tenant_a, patient)
    with override_settings(MAX_UPLOAD_BYTES=1024 * 1024), nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            f"{URL}{assessment.pk}/attachments/",
            {"files": upload("big.pdf", PDF + b"0" * (2 * 1024 * 1024))},
            format="multipart",
        )
    assert_error(response, 413, code="file_too_large")


def test_truncated_png_is_400(refused):
    data = png_bytes(128, 128)
    error = assert_error(refused("scan.png", data[: len(data) // 2]), 400, code="invalid_file")
    assert "truncated" in error["message"] or "corrupt" in error["message"]


def test_truncated_jpeg_is_400(refused):
    data = jpeg_bytes(128, 128)
    error = assert_error(refused("photo.jpg", data[: len(data) // 2]), 400, code="invalid_file")
    assert "truncated" in error["message"] or "corrupt" in error["message"]


def test_a_png_declaring_a_huge_size_is_refused_as_a_bomb(refused):
    data = png_with_declared_size(30000, 30000)
    assert len(data) < 2000
    error = assert_error(refused("bomb.png", data), 413, code="file_too_large")
    assert "pixels" in error["message"]


def test_a_large_one_bit_image_that_compresses_tiny_is_refused(refused):
    buffer = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buffer, format="PNG")  # 60 megapixels in a few kilobytes
    assert buffer.tell() < 100_000
    error = assert_error(refused("bomb.png", buffer.getvalue()), 413, code="file_too_large")
    assert "pixels" in error["message"]


def test_a_path_traversal_file_name_is_reduced_to_its_last_part(tenant_a, patient, s3_server, s3_bucket):
    body, content_type = multipart(
        {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": json.dumps(GOFF_WHITE_FEMALE)},
        [
            ("attachments", "../../etc/passwd.pdf", PDF, "application/pdf"),
            ("attachments", "..\\..\\windows\\win.pdf", PDF, "application/pdf"),
        ],
    )
    response = tenant_a.api("clinician").post(URL, data=body, content_type=content_type)
    assert response.status_code == 201, response.content
    assessment_id = response.json()["id"]
    with scopes_disabled():
        # File names are sealed: sorted after decrypting (SQL would order the ciphertext).
        rows = sorted(UploadedFile.objects.filter(assessment_id=assessment_id), key=lambda r: r.original_filename)
    assert [r.original_filename for r in rows] == ["passwd.pdf", "win.pdf"]
    prefix = f"org/{tenant_a.organization.pk}/assessments/{assessment_id}/"
    for row in rows:
        assert row.storage_key.startswith(prefix) and row.storage_key.endswith(".pdf")
        assert len(row.storage_key[len(prefix) : -len(".pdf")]) == 32 and ".." not in row.storage_key
    assert {r.storage_key for r in rows} == bucket_keys(s3_server, s3_bucket, prefix=prefix)


def test_a_bad_file_among_good_ones_refuses_the_whole_request(tenant_a, patient, s3_server, s3_bucket):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            URL,
            multipart_create(
                patient,
                inputs=GOFF_WHITE_FEMALE,
                attachments=[upload("good.pdf", PDF), upload("good.png", png_bytes()), upload("bad.pdf", ELF)],
            ),
            format="multipart",
        )
    assert_error(response, 415)


def test_input_files_for_a_modality_that_takes_none_are_400(refused):
    assert_error(refused("lab.pdf", PDF, field="files"), 400, field="files")


# --- fields --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, field",
    [
        ({"modality": "tarot"}, "modality"),
        ({"modality": ""}, "modality"),
        ({"patient": "not-a-uuid"}, "patient"),
        ({"inputs": {k: v for k, v in GOFF_WHITE_FEMALE.items() if k != "hdl_cholesterol"}}, "inputs.hdl_cholesterol"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "systolic_bp": 900}}, "inputs.systolic_bp"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "systolic_bp": -5}}, "inputs.systolic_bp"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "hdl_cholesterol": 250}}, "inputs.hdl_cholesterol"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "hdl_cholesterol": 213}}, "inputs.hdl_cholesterol"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "total_cholesterol": "lots"}}, "inputs.total_cholesterol"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "age": 200}}, "inputs.age"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "cholesterol_unit": "g/L"}}, "inputs.cholesterol_unit"),
        ({"inputs": {**GOFF_WHITE_FEMALE, "shoe_size": 44}}, "inputs.shoe_size"),
        ({"inputs": [1, 2, 3]}, "inputs"),
        ({"inputs": "not json"}, "inputs"),
    ],
)
def test_invalid_fields_are_400_on_the_field(tenant_a, patient, s3_server, s3_bucket, change, field):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, create_payload(patient, **change), format="json")
    assert_error(response, 400, code="invalid", field=field)


def test_missing_required_fields_are_400(tenant_a, s3_server, s3_bucket):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, {}, format="json")
    error = assert_error(response, 400, field="patient")
    assert "modality" in error["fields"]


def test_non_json_inputs_in_multipart_is_400(tenant_a, patient, s3_server, s3_bucket):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            URL,
            multipart_create(patient, inputs="{age: fifty", attachments=upload("lab.pdf", PDF)),
            format="multipart",
        )
    assert_error(response, 400, field="inputs")


def test_another_tenants_patient_is_400_like_a_missing_one(tenant_a, tenant_b, s3_server, s3_bucket):
    theirs = make_patient(tenant_b)
    api = tenant_a.api("clinician")
    with nothing_stored(s3_server, s3_bucket):
        foreign = api.post(
            URL,
            multipart_create(theirs, inputs=GOFF_WHITE_FEMALE, attachments=upload("lab.pdf", PDF)),
            format="multipart",
        )
        missing = api.post(URL, create_payload(theirs, patient=str(uuid.uuid4())), format="json")
    foreign_error = assert_error(foreign, 400, field="patient")
    assert foreign_error == assert_error(missing, 400, field="patient")


def test_consent_is_required_when_the_organization_says_so(tenant_a, s3_server, s3_bucket):
    organization = tenant_a.organization
    organization.require_consent_for_assessment = True
    organization.save()
    without = make_patient(tenant_a, consent=False)
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, create_payload(without), format="json")
    error = assert_error(response, 400, field="patient")
    assert "consent" in error["fields"]["patient"][0]
    with_consent = make_patient(tenant_a, consent=True)
    assert tenant_a.api("clinician").post(URL, create_payload(with_consent), format="json").status_code == 201


def test_unsupported_content_type_is_415(tenant_a, patient, s3_server, s3_bucket):
    api = tenant_a.api("clinician")
    with nothing_stored(s3_server, s3_bucket):
        text = api.post(URL, data=json.dumps(create_payload(patient)), content_type="text/plain")
        form = api.post("/api/v1/patients/", {"mrn": "X"}, format="multipart")
        keyed = api.post(URL, data="patient=x", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="ct-1")
    assert_error(text, 415, code="unsupported_media_type")
    assert_error(form, 415, code="unsupported_media_type")
    assert_error(keyed, 415, code="unsupported_media_type")


def test_malformed_json_is_400(tenant_a, s3_server, s3_bucket):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(URL, data="{not json", content_type="application/json")
    assert_error(response, 400, code="parse_error")


# --- authentication ---------------------------------------------------------------------------------------
def test_no_invalid_or_revoked_key_is_401(tenant_a, patient, s3_server, s3_bucket):
    from rest_framework.test import APIClient

    payload = create_payload(patient)
    anonymous = APIClient()
    with nothing_stored(s3_server, s3_bucket):
        response = anonymous.post(URL, payload, format="json")
        assert_error(response, 401, code="not_authenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert_error(anonymous.get("/api/v1/patients/"), 401)

        for header in (
            "Bearer mlk_000000000000_" + "x" * 43,
            "Bearer not-a-key",
            "Token " + tenant_a.api_keys["clinician"],
            "Bearer " + tenant_a.api_keys["clinician"][:-1] + "?",
        ):
            wrong = APIClient()
            wrong.credentials(HTTP_AUTHORIZATION=header)
            assert_error(wrong.get("/api/v1/patients/"), 401, code="authentication_failed")
            assert_error(wrong.post(URL, payload, format="json"), 401)

        client = tenant_a.api_clients["clinician"]
        with scopes_disabled():
            type(client).objects.filter(pk=client.pk).update(revoked_at=timezone.now())
        revoked = tenant_a.api("clinician")
        error = assert_error(revoked.post(URL, payload, format="json"), 401, code="authentication_failed")
        assert "revoked" in error["message"]


def test_a_suspended_organization_is_refused(tenant_a, patient):
    organization = tenant_a.organization
    organization.status = organization.Status.SUSPENDED
    organization.save()
    assert_error(tenant_a.api("clinician").get("/api/v1/patients/"), 403)


def test_a_nul_character_in_a_query_is_400_not_500(tenant_a, patient):
    api = tenant_a.api("read_only")
    assert_error(api.get("/api/v1/patients/", {"q": "Ada\x00"}), 400, field="q")
    assert_error(api.get(f"/api/v1/patients/{patient.pk}/biomarkers/", {"name": "bmi\x00"}), 400, field="name")
    assert_error(api.get(URL, {"modality": "cvd\x00"}), 400, field="modality")


def test_a_measurement_date_that_is_not_text_is_400(tenant_a, patient, s3_server, s3_bucket):
    with nothing_stored(s3_server, s3_bucket):
        response = tenant_a.api("clinician").post(
            URL, create_payload(patient, inputs={**GOFF_WHITE_FEMALE, "measured_on": 20240101}), format="json"
        )
    assert_error(response, 400, field="inputs.measured_on")
