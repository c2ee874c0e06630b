"""The new-assessment page's file upload in Chromium: htmx posts the form (hx-post), its upload progress
events fill the form's <progress> (static/js/upload-progress.js), and HX-Redirect opens the assessment when the
server accepts the files; a refused file re-renders the form in place with its error, focused, and nothing is
stored.
"""

import io
import re
from datetime import date

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import expect

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import Assessment, UploadedFile
from medilens.testing.fixtures import build_tenant
from modalities import retinal

pytestmark = pytest.mark.django_db(transaction=True)

# Every text the progress line shows is kept in sessionStorage, which outlives the navigation that
# follows a successful upload (a page variable would not).
RECORD_PROGRESS = """
() => {
  sessionStorage.setItem("progress", "[]");
  const text = document.querySelector("[data-upload-progress-text]");
  const bar = document.querySelector("progress[data-upload-progress-bar]");
  new MutationObserver(() => {
    const seen = JSON.parse(sessionStorage.getItem("progress"));
    seen.push({text: text.textContent, value: bar.value});
    sessionStorage.setItem("progress", JSON.stringify(seen));
  }).observe(text, {childList: true, characterData: true, subtree: true});
}
"""


def _fundus_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(retinal.synthetic_fundus(640).rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def _patient(tenant):
    with organization_scope(tenant.organization):
        return services.create_patient(
            actor=tenant.users["technician"], organization=tenant.organization, consent=True, mrn="UP-0001",
            given_name="Grace", family_name="Hopper", date_of_birth=date(1956, 12, 9), sex_at_birth="female",
        )


def _counts():
    with scopes_disabled():
        return Assessment.objects.count(), UploadedFile.objects.count()


@pytest.mark.browser
def test_a_photo_uploads_with_progress_and_opens_its_assessment(page, live_server, password, sign_in, screenshot_dir):
    tenant = build_tenant("clinic-a")
    patient = _patient(tenant)
    photo = _fundus_png()
    sign_in(page, tenant.users["technician"].email, password)
    page.goto(f"{live_server.url}/patients/{patient.pk}/assessments/new/?modality=retinal")
    page.evaluate(RECORD_PROGRESS)
    page.get_by_label("Retinal photo input files").set_input_files(
        {"name": "left eye.png", "mimeType": "image/png", "buffer": photo}
    )

    with page.expect_request(lambda r: r.method == "POST" and "/assessments/new/" in r.url) as sent:
        with page.expect_navigation(url=re.compile(r"/assessments/[0-9a-f-]{36}/$")):
            page.get_by_role("button", name="Request assessment").click()
    assert sent.value.headers.get("hx-request") == "true"  # htmx sent it, not a plain form post
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retinal photo")
    page.screenshot(path=str(screenshot_dir / "upload-accepted.png"), full_page=True)

    seen = page.evaluate("() => JSON.parse(sessionStorage.getItem('progress'))")
    texts = [entry["text"] for entry in seen]
    assert texts[0] == "Starting the upload…"
    assert "Uploaded. Checking the files…" in texts
    assert any(entry["value"] == 100 for entry in seen)
    assert all(re.fullmatch(r"Uploading: \d+%", t) for t in texts if t.startswith("Uploading"))

    assessment_id = page.url.rstrip("/").rsplit("/", 1)[1]
    with scopes_disabled():
        assessment = Assessment.objects.get(pk=assessment_id)
        stored = UploadedFile.objects.get(assessment=assessment)
    assert assessment.modality == "retinal" and assessment.status == Assessment.Status.QUEUED
    assert assessment.patient_id == patient.pk
    assert stored.original_filename == "left eye.png" and stored.content_type == "image/png"
    assert stored.size == len(photo)  # a PNG is stored losslessly as it came (no metadata to remove here)
    assert default_storage.exists(stored.storage_key)


@pytest.mark.browser
def test_a_refused_file_shows_its_error_in_place_and_stores_nothing(page, live_server, password, sign_in):
    tenant = build_tenant("clinic-a")
    patient = _patient(tenant)
    before = _counts()
    sign_in(page, tenant.users["technician"].email, password)
    form_url = f"{live_server.url}/patients/{patient.pk}/assessments/new/?modality=retinal"
    page.goto(form_url)
    page.get_by_label("Retinal photo input files").set_input_files(
        {"name": "fundus.png", "mimeType": "image/png", "buffer": b"Referral letter, not a photograph.\n" * 40}
    )

    with page.expect_response(lambda r: r.request.method == "POST") as answered:
        page.get_by_role("button", name="Request assessment").click()
    assert answered.value.status == 415  # text where a photo belongs: Unsupported Media Type
    # The form came back in place (no navigation), its error announced and focused, the button usable.
    assert page.url == form_url
    error = page.locator("#error-summary, main [role=alert]").first
    expect(error).to_be_visible()
    expect(error).to_be_focused()
    expect(page.locator("main")).to_contain_text("fundus.png")
    expect(page.get_by_role("button", name="Request assessment")).to_be_enabled()
    assert _counts() == before
