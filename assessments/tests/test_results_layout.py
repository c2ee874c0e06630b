"""The results page reads in the order a clinician reads: the summary (headline with label and unit, risk level,
flagged findings, explanation), the images, then the biomarkers by category with quality control collapsed, and
the inputs and stages collapsed; labels are words and numbers have a sensible precision."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.roles import Role
from accounts.tenancy import organization_scope
from assessments import pipeline, presenters, samples, services

from .portal import make_assessment, make_patient, text

pytestmark = pytest.mark.django_db


def _ecg(tenant, patient):
    sample = samples.SAMPLES["cardiology"]
    data = (samples.SAMPLES_DIR / sample.filename).read_bytes()
    with organization_scope(tenant.organization):
        assessment = services.create_assessment(
            actor=tenant.users["clinician"],
            organization=tenant.organization,
            patient=patient,
            modality="cardiology",
            inputs={},
            files=[SimpleUploadedFile(sample.filename, data, content_type=sample.content_type)],
        )
        assert pipeline.run(assessment.pk) == "completed"
    return assessment


def _position(body: str, marker: str) -> int:
    index = body.find(marker)
    assert index >= 0, marker
    return index


def test_the_summary_comes_first_with_the_flagged_findings(tenant_a):
    patient = make_patient(tenant_a, "L-1")
    panel = {"total_cholesterol": 213, "hdl_cholesterol": 38, "systolic_bp": 148, "age": 60, "egfr": 56.11}
    assessment = make_assessment(tenant_a, patient, inputs=panel, run=True)
    body = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/").content.decode()
    order = [
        _position(body, marker)
        for marker in (
            'id="summary-heading"',
            'id="contributions-heading"',
            'id="biomarkers-heading"',
            'id="sign-off"',
            'id="stages"',
            'id="inputs"',
            'id="files"',
        )
    ]
    assert order == sorted(order)
    summary = body.split('id="summary-heading"')[1].split("</section>")[0]
    findings = " ".join(re.sub(r"<[^>]+>", " ", summary.split('class="findings"')[1].split("</ul>")[0]).split())
    assert "High Systolic blood pressure 148 mmHg (reference 90 to &lt; 120)" in findings
    assert "Low HDL cholesterol 38 mg/dL" in findings
    assert "10-year ASCVD risk (PCE)" not in findings  # the headline is not its own finding
    assert assessment.explanation.summary.split(":")[0] in summary
    # Inputs and stages are collapsed; the discussion sits in the aside.
    assert '<details class="card card-details" id="inputs">' in body
    assert re.search(r'<details class="card card-details" id="stages"\s*>', body)
    assert body.index('<aside class="results-aside"') < body.index('id="discussion"')
    # eGFR typed as 56.11 reads at the catalogue's precision; one spelling of m².
    inputs = text_of(body.split('id="inputs"')[1].split("</details>")[0])
    assert "eGFR (mL/min/1.73 m²) 56 " in inputs and "56.11" not in inputs
    assert "m2" not in text_of(body.split("<main")[1])


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_quality_control_is_collapsed_after_the_clinical_biomarkers(tenant_a):
    assessment = _ecg(tenant_a, make_patient(tenant_a, "L-2"))
    response = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/")
    body, page = response.content.decode(), text(response)
    biomarkers = body.split('id="biomarkers-heading"')[1].split("</section>")[0]
    quality = biomarkers.index('<details class="biomarker-group biomarker-group-quality">')
    assert biomarkers.index("<h3>Intervals</h3>") < quality and "ECG signal quality" in biomarkers[quality:]
    assert "Source" not in re.sub(r"<details class=\"source\">.*?</details>", "", biomarkers, flags=re.S)
    assert "Rhythm strip of the analysed lead" in page  # its own caption, not a generic one
    assert "Source" not in biomarkers.split("<thead>")[1].split("</thead>")[0]  # no source column


def test_an_image_result_shows_the_original_beside_the_overlay_with_toggles(tenant_a):
    sample = samples.SAMPLES["retinal"]
    patient = make_patient(tenant_a, "L-3")
    with organization_scope(tenant_a.organization):
        assessment = services.create_assessment(
            actor=tenant_a.users["clinician"],
            organization=tenant_a.organization,
            patient=patient,
            modality="retinal",
            inputs={},
            files=[
                SimpleUploadedFile(
                    sample.filename,
                    (samples.SAMPLES_DIR / sample.filename).read_bytes(),
                    content_type=sample.content_type,
                )
            ],
        )
        assert pipeline.run(assessment.pk) == "completed"
        original = assessment.files.get()
    body = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/").content.decode()
    images = body.split('id="images-heading"')[1].split("</section>")[0]
    assert f'src="/files/{original.pk}/download/"' in images
    assert f'src="/assessments/{assessment.pk}/explanation-image/"' in images
    assert 'id="overlay-toggle" class="overlay-toggle" checked' in images and images.count('class="zoom-toggle"') == 2
    assert "<script" not in images  # the toggles are CSS: the CSP allows no inline script


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("sampling_rate_hz", "Sampling rate (Hz)"),
        ("qtc_thresholds_sex", "QTc thresholds by sex"),
        ("hdl_cholesterol", "HDL cholesterol"),
        ("egfr", "eGFR"),
        ("pixels_per_mm", "Pixels per mm"),
    ],
)
def test_names_read_as_words(name, label):
    assert presenters.humanize(name) == label


def test_squared_units_have_one_spelling():
    assert presenters.unit_text("BMI (kg/m2)") == "BMI (kg/m²)"
    assert presenters.unit_text("eGFR (mL/min/1.73m2)") == "eGFR (mL/min/1.73 m²)"
    assert presenters.unit_text("mL/min/1.73 m²") == "mL/min/1.73 m²"
