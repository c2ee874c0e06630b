"""Shared helpers of the API tests: patients made through the services, file builders, the one error
shape, and "nothing was stored" (rows and bucket objects) around a refused request."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from contextlib import contextmanager
from datetime import date

from PIL import Image

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, BiomarkerValue, IdempotencyRecord, Patient, PipelineStage, UploadedFile

GOFF_PANEL = {
    "age": 55,
    "total_cholesterol": 213,
    "hdl_cholesterol": 50,
    "cholesterol_unit": "mg/dL",
    "systolic_bp": 120,
    "bp_treated": False,
    "diabetic": False,
    "smoker": False,
}
GOFF_WHITE_FEMALE = {**GOFF_PANEL, "sex": "female", "race": "white"}
GOFF_AFRICAN_AMERICAN_MALE = {**GOFF_PANEL, "sex": "male", "race": "african_american"}

ASSESSMENT_CONTRACT = {
    "id",
    "patient",
    "modality",
    "status",
    "risk_score",
    "risk_level",
    "confidence",
    "failure_reason",
    "stages",
    "biomarkers",
    "explanation",
    "created_at",
    "queued_at",
    "started_at",
    "completed_at",
    "failed_at",
    "cancelled_at",
    "updated_at",
}

_mrn_counter = iter(range(1, 10**9))


def make_patient(tenant, *, consent: bool = True, **overrides) -> Patient:
    """A patient created through the service, inside the tenant's scope (as a request would)."""
    fields = {
        "mrn": f"MRN-{next(_mrn_counter):05d}",
        "given_name": "Ada",
        "family_name": "Example",
        "date_of_birth": date(1970, 1, 1),
        "sex_at_birth": "female",
    }
    fields.update(overrides)
    with organization_scope(tenant.organization):
        return services.create_patient(actor="system:test", organization=tenant.organization, consent=consent, **fields)


def make_assessment(tenant, patient, *, modality: str = "cvd_risk", inputs=None, attachments=()) -> Assessment:
    with organization_scope(tenant.organization):
        return services.create_assessment(
            actor="system:test",
            organization=tenant.organization,
            patient=patient,
            modality=modality,
            inputs=GOFF_WHITE_FEMALE if inputs is None and modality == "cvd_risk" else (inputs or {}),
            attachments=attachments,
        )


def create_payload(patient, /, **overrides) -> dict:
    payload = {"patient": str(patient.pk), "modality": "cvd_risk", "inputs": dict(GOFF_WHITE_FEMALE)}
    payload.update(overrides)
    return payload


# --- the one error shape ---------------------------------------------------------------------------------
def assert_error(response, status: int, *, code: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:2000])
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"].strip()
    assert set(error) <= {"status", "code", "message", "fields"}
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert field in error.get("fields", {}), error
        messages = error["fields"][field]
        assert messages and all(isinstance(m, str) and m for m in messages), error
    return error


# --- nothing stored ----------------------------------------------------------------------------------------
_clients: dict[int, object] = {}


def s3_client(s3_server):
    """One boto3 client per server (building one costs a few hundred milliseconds)."""
    if id(s3_server) not in _clients:
        _clients[id(s3_server)] = s3_server.client()
    return _clients[id(s3_server)]


def bucket_keys(s3_server, bucket: str, prefix: str = "org/") -> set[str]:
    paginator = s3_client(s3_server).get_paginator("list_objects_v2")
    keys = set()
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def row_counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            model.__name__: model.objects.count()
            for model in (Patient, Assessment, PipelineStage, UploadedFile, BiomarkerValue, IdempotencyRecord)
        }


@contextmanager
def nothing_stored(s3_server, bucket: str):
    """Around a refused request: no row in any table, no object in the bucket."""
    rows, keys = row_counts(), bucket_keys(s3_server, bucket)
    yield
    assert row_counts() == rows
    assert bucket_keys(s3_server, bucket) == keys


# --- files ------------------------------------------------------------------------------------------------
PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def noise_image(width: int = 64, height: int = 48, mode: str = "RGB") -> Image.Image:
    import random

    rng = random.Random(width * 1000 + height)
    channels = len(mode)
    return Image.frombytes(mode, (width, height), bytes(rng.randrange(256) for _ in range(width * height * channels)))


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    noise_image(width, height).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48, *, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    params = {"quality": 90}
    if exif is not None:
        params["exif"] = exif.tobytes()
    noise_image(width, height).save(buffer, format="JPEG", **params)
    return buffer.getvalue()


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` x ``height`` (CRC fixed so it parses)."""
    data = bytearray(png_bytes(8, 8))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first start-of-scan marker on: the entropy-coded image data."""
    start = jpeg.index(b"\xff\xda")
    return jpeg[start:]


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """A hand-built multipart body: the test client would strip directories from file names itself."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + (value if isinstance(value, bytes) else str(value).encode())
            + b"\r\n"
        )
    for field, filename, data, content_type in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def multipart_create(patient, *, inputs=None, modality="cvd_risk", **files) -> dict:
    """Data for APIClient.post(..., format="multipart")."""
    data = {"patient": str(patient.pk), "modality": modality}
    if inputs is not None:
        data["inputs"] = inputs if isinstance(inputs, str) else json.dumps(inputs)
    data.update(files)
    return data
