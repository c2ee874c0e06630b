"""Files through the portal: supporting documents with a new assessment or added later, refused uploads
(disguised, oversize, none), the audited presigned download, and the local-disk signed download."""

import pytest
import requests
from django.test import Client, override_settings

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments.models import Assessment, UploadedFile
from medilens import storage

from .portal import (
    NothingStored,
    bucket_keys,
    events,
    form_data,
    make_assessment,
    make_patient,
    pdf_bytes,
    png_bytes,
    text,
    upload,
)

pytestmark = pytest.mark.django_db


def _new_url(patient):
    return f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk"


def _files(assessment):
    with scopes_disabled():
        return list(UploadedFile.objects.filter(assessment=assessment).order_by("created_at", "id"))


# --- with a new assessment ---------------------------------------------------------------------------
def test_a_pdf_and_a_png_are_stored_in_the_bucket_with_the_new_assessment(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "U-1")
    data = {
        **form_data(),
        "attachments": [
            upload("lab report.pdf", pdf_bytes(), "application/pdf"),
            upload("referral.png", png_bytes(), "image/png"),
        ],
    }
    response = tenant_a.client_for(Role.TECHNICIAN).post(_new_url(patient), data)
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        assessment = Assessment.objects.get(patient=patient)
    files = _files(assessment)
    assert [(f.original_filename, f.content_type, f.kind) for f in files] == [
        ("lab report.pdf", "application/pdf", "attachment"),
        ("referral.png", "image/png", "attachment"),
    ]
    prefix = f"org/{tenant_a.organization.pk}/assessments/{assessment.pk}/"
    assert bucket_keys(s3_server, s3_bucket, prefix) == {f.storage_key for f in files}
    stored = s3_server.client().get_object(Bucket=s3_bucket, Key=files[0].storage_key)["Body"].read()
    assert stored == pdf_bytes()


def test_a_text_file_named_pdf_is_refused_415_and_nothing_is_stored(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "U-2")
    data = {
        **form_data(),
        "attachments": [
            upload("ok.pdf", pdf_bytes(), "application/pdf"),
            upload("x.pdf", b"just some words and not a PDF at all\n" * 20, "application/pdf"),
        ],
    }
    with NothingStored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), data)
    assert response.status_code == 415
    error = response.content.decode().split('id="id_attachments_error">', 1)[1].split("</div>", 1)[0]
    assert "x.pdf: the content is text/plain, which is not accepted here (accepted: jpg, pdf, png)." in error


def test_an_upload_over_the_size_cap_is_a_413(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "U-3")
    data = {**form_data(), "attachments": upload("big.pdf", pdf_bytes() + b"%" * 5000, "application/pdf")}
    with override_settings(MAX_UPLOAD_BYTES=2048), NothingStored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(_new_url(patient), data)
    assert response.status_code == 413
    assert "big.pdf: larger than the 2.0 KB limit per file. Nothing was saved." in text(response)


# --- added to an assessment --------------------------------------------------------------------------
def test_documents_can_be_attached_to_an_existing_assessment(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "U-4")
    assessment = make_assessment(tenant_a, patient, run=True)
    client = tenant_a.client_for(Role.TECHNICIAN)
    url = f"/assessments/{assessment.pk}/attachments/"
    response = client.post(url, {"attachments": upload("echo.png", png_bytes(), "image/png")})
    assert response.status_code == 302 and response["Location"].endswith("#files")
    [stored] = _files(assessment)
    assert (stored.original_filename, stored.content_type, stored.uploaded_by) == (
        "echo.png", "image/png", tenant_a.users[Role.TECHNICIAN])
    assert events(tenant_a.organization, "assessment.attachment_added", assessment).count() == 1

    with NothingStored(s3_server, s3_bucket):
        refused = client.post(url, {"attachments": upload("notes.pdf", b"plain text\n" * 50, "application/pdf")})
        assert refused.status_code == 415 and "notes.pdf: the content is text/plain" in text(refused)
        empty = client.post(url, {})
        assert empty.status_code == 400 and "This field is required." in text(empty)
        blank = client.post(url, {"attachments": upload("empty.pdf", b"", "application/pdf")})
        assert blank.status_code == 400
    # htmx (the form's hx-post) gets HX-Redirect instead of a 302 its XMLHttpRequest would follow itself.
    scripted = client.post(url, {"attachments": upload("two.pdf", pdf_bytes(), "application/pdf")},
                           HTTP_HX_REQUEST="true")
    assert scripted.status_code == 204 and scripted["HX-Redirect"] == f"/assessments/{assessment.pk}/#files"


def test_an_oversize_attachment_is_a_413(tenant_a, s3_server, s3_bucket):
    patient = make_patient(tenant_a, "U-5")
    assessment = make_assessment(tenant_a, patient)
    with override_settings(MAX_UPLOAD_BYTES=1024), NothingStored(s3_server, s3_bucket):
        response = tenant_a.client_for(Role.CLINICIAN).post(
            f"/assessments/{assessment.pk}/attachments/",
            {"attachments": upload("scan.png", png_bytes((600, 600)), "image/png")},
        )
    assert response.status_code == 413 and "scan.png: larger than the" in text(response)


# --- downloads ---------------------------------------------------------------------------------------
def test_download_redirects_to_an_audited_presigned_url(tenant_a):
    patient = make_patient(tenant_a, "W-1")
    assessment = make_assessment(tenant_a, patient, attachments=[upload("lab.pdf", pdf_bytes(), "application/pdf")])
    [uploaded] = _files(assessment)
    client = tenant_a.client_for(Role.AUDITOR)
    page = client.get(f"/assessments/{assessment.pk}/").content.decode()
    assert f'href="/files/{uploaded.pk}/download/"' in page

    response = client.get(f"/files/{uploaded.pk}/download/")
    assert response.status_code == 302
    url = response["Location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url and uploaded.storage_key in url
    assert response["Cache-Control"] == "no-store"
    event = events(tenant_a.organization, "file.download_url_issued", uploaded).get()
    assert event.actor_user == tenant_a.users[Role.AUDITOR]
    assert event.details["assessment_id"] == str(assessment.pk)
    # The URL works by itself (no session), and only as signed.
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.content == pdf_bytes()
    assert "attachment" in fetched.headers["Content-Disposition"]
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_a_technician_cannot_download_and_nothing_is_issued(tenant_a):
    patient = make_patient(tenant_a, "W-2")
    assessment = make_assessment(tenant_a, patient, attachments=[upload("lab.pdf", pdf_bytes(), "application/pdf")])
    [uploaded] = _files(assessment)
    assert tenant_a.client_for(Role.TECHNICIAN).get(f"/files/{uploaded.pk}/download/").status_code == 403
    assert not events(tenant_a.organization, "file.download_url_issued").exists()


@pytest.fixture
def local_disk(tmp_path):
    """The embedded default: files on the local disk."""
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield tmp_path


def test_on_local_disk_the_download_is_an_opaque_expiring_link(tenant_a, local_disk, monkeypatch):
    patient = make_patient(tenant_a, "W-3")
    assessment = make_assessment(tenant_a, patient, attachments=[upload("lab.pdf", pdf_bytes(), "application/pdf")])
    [uploaded] = _files(assessment)
    clinician = tenant_a.client_for(Role.CLINICIAN)
    response = clinician.get(f"/files/{uploaded.pk}/download/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("/files/signed/")
    assert events(tenant_a.organization, "file.download_url_issued", uploaded).count() == 1

    # The token is the authorization, in the session of the member it was issued to.
    download = clinician.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == pdf_bytes()
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == f'attachment; filename="{uploaded.display_name}"'
    assert "no-store" in download["Cache-Control"]
    # Issue 10: a member's link does not open for anyone else (it was "no session needed" before).
    assert Client().get(url).status_code == 404
    assert tenant_a.client_for(Role.AUDITOR).get(url).status_code == 404

    anonymous = Client()
    token = url.removeprefix("/files/signed/").rstrip("/")
    assert clinician.get(f"/files/signed/{token[:-2]}xx/").status_code == 404
    assert anonymous.get("/files/signed/not-a-token/").status_code == 404
    assert clinician.post(url).status_code == 405
    monkeypatch.setattr(storage, "DOWNLOAD_TTL_SECONDS", -1)
    expired = clinician.get(url)
    assert expired.status_code == 410 and "no-store" in expired["Cache-Control"]
    assert "This download link has expired" in text(expired)


def _decodings(token: str):
    """Whatever the token's parts decode to, as Django's signing would read them (base64, maybe zlib)."""
    import base64
    import zlib

    for part in token.split(":"):
        part = part.lstrip(".")
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        yield raw
        try:
            yield zlib.decompress(raw)
        except zlib.error:
            pass


def test_a_download_token_is_opaque_and_lives_on_the_server(tenant_a, local_disk):
    """Issue 10: the link carried a readable signed payload (storage key, file name); now a random id whose
    meaning is kept server-side, so forgetting it there ends the link."""
    patient = make_patient(tenant_a, "W-4")
    assessment = make_assessment(
        tenant_a, patient, attachments=[upload("Zelda Phiname MRN-4711.pdf", pdf_bytes(), "application/pdf")]
    )
    [uploaded] = _files(assessment)
    clinician = tenant_a.client_for(Role.CLINICIAN)
    url = clinician.get(f"/files/{uploaded.pk}/download/")["Location"]
    token = url.removeprefix("/files/signed/").rstrip("/")
    for decoded in _decodings(token):
        for secret in (uploaded.storage_key, "Zelda", "MRN-4711", uploaded.display_name, str(assessment.pk)):
            assert secret.encode() not in decoded
    assert clinician.get(url).status_code == 200
    from django.core.cache import cache

    cache.delete(storage._token_cache_key(token))
    assert clinician.get(url).status_code == 404


def test_an_api_clients_local_download_link_needs_no_session(tenant_a, local_disk):
    """A partner's system fetches the link it was given: no session to bind it to."""
    patient = make_patient(tenant_a, "W-5")
    assessment = make_assessment(tenant_a, patient, attachments=[upload("lab.pdf", pdf_bytes(), "application/pdf")])
    [uploaded] = _files(assessment)
    body = tenant_a.api("clinician").get(f"/api/v1/files/{uploaded.pk}/download/").json()
    path = body["url"].split("://", 1)[1].split("/", 1)[1]
    download = Client().get("/" + path)
    assert download.status_code == 200 and b"".join(download.streaming_content) == pdf_bytes()
