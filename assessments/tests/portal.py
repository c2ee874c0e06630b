"""Helpers for the portal tests: patients and assessments made through services, as a request would."""

import io
import re
from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.tenancy import organization_scope
from assessments import pipeline, services
from assessments.models import Assessment

# Goff 2014's worked example (white female, 55): PCE 10-year ASCVD risk 2.1%.
PANEL = {"total_cholesterol": 213, "hdl_cholesterol": 50, "systolic_bp": 120}

PATIENT = {
    "given_name": "Ada",
    "family_name": "Okafor",
    "date_of_birth": date(1965, 3, 14),
    "sex_at_birth": "female",
    "height_cm": Decimal("165.0"),
    "weight_kg": Decimal("68.0"),
}


def make_patient(tenant, mrn="P-000001", *, consent=True, **fields):
    with organization_scope(tenant.organization):
        return services.create_patient(
            actor=tenant.users["clinician"], organization=tenant.organization, consent=consent,
            mrn=mrn, **{**PATIENT, **fields},
        )


def make_assessment(tenant, patient, *, inputs=None, run=False, attachments=(), modality="cvd_risk") -> Assessment:
    """A queued assessment; with run=True the analysis runs here, synchronously, as a worker would."""
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=tenant.users["clinician"], organization=tenant.organization, patient=patient,
            modality=modality, inputs=dict(PANEL if inputs is None and modality == "cvd_risk" else inputs or {}),
            attachments=attachments,
        )
        if run:
            pipeline.run(assessment.pk)
            assessment.refresh_from_db()
    return assessment


def form_data(patient_age=None, **overrides) -> dict:
    """A valid POST of the new-assessment form (the analyzer's fields carry the "inputs-" prefix)."""
    data = {
        "modality": "cvd_risk",
        "inputs-age": "60" if patient_age is None else str(patient_age),
        "inputs-sex": "female",
        "inputs-race": "",
        "inputs-total_cholesterol": "213",
        "inputs-hdl_cholesterol": "50",
        "inputs-cholesterol_unit": "mg/dL",
        "inputs-systolic_bp": "120",
        "inputs-bmi": "25",
        "inputs-egfr": "90",
        "inputs-creatinine": "",
        "inputs-creatinine_unit": "mg/dL",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def png_bytes(size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def text(response) -> str:
    """Visible text of a page, tags stripped, whitespace collapsed."""
    import html

    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def row_counts() -> dict[str, int]:
    from accounts.tenancy import scopes_disabled
    from assessments.models import BiomarkerValue, DiscussionMessage, Patient, PipelineStage, UploadedFile

    with scopes_disabled():
        return {
            model.__name__: model.objects.count()
            for model in (Patient, Assessment, PipelineStage, UploadedFile, BiomarkerValue, DiscussionMessage)
        }


def bucket_keys(s3_server, bucket: str, prefix: str = "org/") -> set[str]:
    paginator = s3_server.client().get_paginator("list_objects_v2")
    keys = set()
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


class NothingStored:
    """Around a refused request: no new row in any table, no new object in the bucket."""

    def __init__(self, s3_server, bucket: str):
        self.s3_server, self.bucket = s3_server, bucket

    def __enter__(self):
        self.rows, self.keys = row_counts(), bucket_keys(self.s3_server, self.bucket)
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            assert row_counts() == self.rows
            assert bucket_keys(self.s3_server, self.bucket) == self.keys
        return False


def events(organization, action: str, target=None):
    from audit.models import AuditEvent

    queryset = AuditEvent.objects.filter(organization=organization, action=action)
    if target is not None:
        queryset = queryset.filter(target_id=str(target.pk))
    return queryset


def make_failed_assessment(tenant, patient) -> Assessment:
    """An assessment that fails in the worker with a reason (the test analyzer asked to fail: a cvd_risk
    request that no equation can assess is refused at submission now, so it can no longer fail later)."""
    return make_assessment(tenant, patient, modality="test_sleep", inputs={"seconds": 0, "fail": True}, run=True)
