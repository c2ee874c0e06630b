"""The sample inputs the modality chooser offers: each one is accepted at submission and analyses to a result
through the real pipeline (stored in the session's S3 server, read back by the analyzer), as a new user
trying a modality would see."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.tenancy import organization_scope
from assessments import pipeline, samples, services
from assessments.models import Assessment
from modalities import registry, runtime

from .portal import make_patient

pytestmark = pytest.mark.django_db


def test_every_modality_that_takes_files_has_a_sample_and_every_sample_a_modality():
    takes_files = {
        name for name in registry.names()
        if registry.get(name).modality.accepted_types and not name.startswith("test_")  # the suite's own analyzers
    }
    assert set(samples.SAMPLES) == takes_files
    for sample in samples.SAMPLES.values():
        path = samples.SAMPLES_DIR / sample.filename
        assert path.is_file() and 0 < path.stat().st_size < 300 * 1024  # small enough to ship in the repo


@pytest.fixture
def _fresh_model_cache():
    """The reference model registered here is rolled back with the test: no other test may find it cached."""
    runtime.clear_cache()
    yield
    runtime.clear_cache()


@pytest.mark.parametrize("modality", sorted(samples.SAMPLES))
def test_a_sample_analyses_through_its_analyzer(tenant_a, modality, _fresh_model_cache):
    sample = samples.SAMPLES[modality]
    if modality == "radiology":  # the committed reference model, activated as the demo does
        call_command("register_reference_models", "--activate-outside-demo", stdout=io.StringIO())
    patient = make_patient(tenant_a, f"S-{modality}")
    data = (samples.SAMPLES_DIR / sample.filename).read_bytes()
    with organization_scope(tenant_a.organization):
        assessment = services.create_assessment(
            actor=tenant_a.users["clinician"],
            organization=tenant_a.organization,
            patient=patient,
            modality=modality,
            inputs=dict(sample.inputs),
            files=[SimpleUploadedFile(sample.filename, data, content_type=sample.content_type)],
        )
    with organization_scope(tenant_a.organization):
        pipeline.run(assessment.pk)
        assessment.refresh_from_db()
        assert assessment.status == Assessment.Status.COMPLETED, assessment.failure_reason
        assert assessment.biomarkers.count() > 0
        assert assessment.risk_level or assessment.results.get("score_withheld")
