"""Migration 0007 on rows that exist: files get display names in upload order per assessment and kind,
idempotency records keep the ids their stored bodies named, and refusals (and their bodies) go."""

from datetime import UTC, date, datetime

import pytest

from medilens.testing.migrations import leaves, migrate

BEFORE = [("assessments", "0006_typed_results")]


def _with_accounts_at_its_newest(targets):
    """accounts stays at its newest migration: its later columns (NOT NULL, no database default) must be in
    the historical state the test writes rows with."""
    return [*targets, *(leaf for leaf in leaves() if leaf[0] == "accounts")]


AFTER = [("assessments", "0007_upload_display_name_idempotency_ids")]


@pytest.fixture
def at_0006(transactional_db):
    """Migrate back to 0006 and, whatever happens in the test, forward again to every leaf."""
    apps = migrate(_with_accounts_at_its_newest(BEFORE))
    try:
        yield apps
    finally:
        migrate(leaves())


def test_existing_files_and_idempotency_records_are_converted(at_0006):
    apps = at_0006
    organization = apps.get_model("accounts", "Organization").objects.create(slug="m7", name="M7")
    patient = apps.get_model("assessments", "Patient").objects.create(
        organization=organization, mrn="M7-1", given_name="Ada", family_name="Okafor",
        date_of_birth=date(1970, 1, 1), sex_at_birth="female",
    )
    Assessment = apps.get_model("assessments", "Assessment")  # noqa: N806 - a model class
    assessment = Assessment.objects.create(organization=organization, patient=patient, modality="cvd_risk")
    UploadedFile = apps.get_model("assessments", "UploadedFile")  # noqa: N806
    when = [datetime(2026, 3, day, 9, 0, tzinfo=UTC) for day in (1, 2, 3)]
    for name, kind, extension, created in [
        ("Okafor referral.pdf", "attachment", "pdf", when[0]),
        ("Okafor ECG.edf", "input", "edf", when[1]),
        ("Okafor letter.pdf", "attachment", "pdf", when[2]),
    ]:
        row = UploadedFile.objects.create(
            organization=organization, assessment=assessment, kind=kind, original_filename=name,
            storage_key=f"org/{organization.pk}/assessments/{assessment.pk}/{name[7:10]}.{extension}",
            content_type="application/pdf", size=1, sha256_original="0" * 64, sha256_stored="0" * 64,
        )
        UploadedFile.objects.filter(pk=row.pk).update(created_at=created)
    client = apps.get_model("accounts", "ApiClient").objects.create(
        organization=organization, name="EHR", access="clinician", key_prefix="m7prefix", key_digest="0" * 64
    )
    Record = apps.get_model("assessments", "IdempotencyRecord")  # noqa: N806
    body = {"id": str(patient.pk), "given_name": "Ada", "family_name": "Okafor"}
    common = {"organization": organization, "api_client": client, "method": "POST", "path": "/", "request_hash": "h"}
    Record.objects.create(key="created", response_status=201, response_body=body, **common)
    Record.objects.create(key="files", response_status=201, response_body=[{"id": 7}, {"id": 8}], **common)
    Record.objects.create(key="refused", response_status=400, response_body={"error": {"message": "Okafor"}}, **common)

    apps = migrate(AFTER)
    names = dict(apps.get_model("assessments", "UploadedFile").objects.values_list("original_filename", "display_name"))
    assert names == {
        "Okafor referral.pdf": "cvd-risk-document-2026-03-01-1.pdf",
        "Okafor ECG.edf": "cvd-risk-2026-03-02-1.edf",
        "Okafor letter.pdf": "cvd-risk-document-2026-03-03-2.pdf",
    }
    records = dict(apps.get_model("assessments", "IdempotencyRecord").objects.values_list("key", "resource_ids"))
    assert records == {"created": [str(patient.pk)], "files": ["7", "8"]}
