"""S3 unavailable, through a loopback proxy the test cuts in front of the S3 server (the server itself is never
stopped): an upload is a 503 that says so, with nothing saved (no row, no object); the worker that cannot read
its input retries with a growing backoff, then fails the assessment with a reason, or completes it when S3
comes back within its retries."""

import re
from urllib.parse import urlsplit

import pytest
from botocore.config import Config
from django.test import override_settings

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import services
from assessments.models import BiomarkerValue
from medilens.testing.fixtures import build_tenant
from medilens.testing.tcp_proxy import TcpProxy
from medilens.testing.wait import wait_until

from .faults import assert_completed_once, unique_name, wait_for_status
from .helpers_api import GOFF_WHITE_FEMALE, PDF, make_patient, multipart_create, upload
from .portal import bucket_keys, form_data, row_counts

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = "The file store is not answering, so nothing was saved. Try again in a minute."


@pytest.fixture
def s3_proxy(s3_server):
    endpoint = urlsplit(s3_server.endpoint_url)
    with TcpProxy(endpoint.hostname, endpoint.port) as proxy:
        yield proxy


@pytest.fixture
def storage_through_proxy(s3_storage, s3_proxy):
    """This process's storage reaches S3 through the proxy, trying each call once (AWS_S3_MAX_ATTEMPTS=1)."""
    options = {
        **s3_storage,
        "endpoint_url": f"http://{s3_proxy.url_netloc}",
        "client_config": Config(
            s3={"addressing_style": "path"}, signature_version="s3v4",
            retries={"total_max_attempts": 1, "mode": "standard"},
        ),
    }
    storages = {
        "default": {"BACKEND": "medilens.storage.PrivateS3Storage", "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield s3_proxy


def _rows_besides(existing) -> dict[str, int]:
    """row_counts, without the biomarker values of ``existing``: a worker left running by an earlier test may
    complete that cvd_risk assessment while this test runs, which is not what it checks."""
    from accounts.tenancy import scopes_disabled
    from assessments.models import BiomarkerValue

    counts = row_counts()
    with scopes_disabled():
        counts["BiomarkerValue"] = BiomarkerValue.objects.exclude(assessment=existing).count()
    return counts


def test_an_upload_while_s3_is_unreachable_is_a_503_that_saves_nothing(
    tenant_a, storage_through_proxy, s3_server, s3_bucket
):
    patient = make_patient(tenant_a)
    api = tenant_a.api("clinician")
    with organization_scope(tenant_a.organization):
        existing = services.create_assessment(
            actor="system:test", organization=tenant_a.organization, patient=patient, modality="cvd_risk",
            inputs=GOFF_WHITE_FEMALE,
        )
    rows, keys = _rows_besides(existing), bucket_keys(s3_server, s3_bucket)
    storage_through_proxy.cut()
    created = api.post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=[upload("lab.pdf", PDF, "application/pdf")]),
        format="multipart",
    )
    assert created.status_code == 503, created.content
    assert created["Retry-After"] == "30"
    assert created.json()["error"] == {
        "status": 503, "code": "storage_unavailable", "message": UNAVAILABLE, "fields": {"files": [UNAVAILABLE]},
    }
    attached = api.post(
        f"/api/v1/assessments/{existing.pk}/attachments/",
        {"files": [upload("more.pdf", PDF, "application/pdf")]}, format="multipart",
    )
    assert attached.status_code == 503, attached.content
    page = tenant_a.client_for(Role.CLINICIAN).post(
        f"/patients/{patient.pk}/assessments/new/?modality=cvd_risk",
        {**form_data(), "attachments": [upload("referral.pdf", PDF, "application/pdf")]},
    )
    assert page.status_code == 503
    assert UNAVAILABLE in page.content.decode()
    assert _rows_besides(existing) == rows
    assert bucket_keys(s3_server, s3_bucket) == keys
    # S3 back: the same request is accepted.
    storage_through_proxy.restore()
    again = api.post(
        "/api/v1/assessments/",
        multipart_create(patient, inputs=GOFF_WHITE_FEMALE, attachments=[upload("lab.pdf", PDF, "application/pdf")]),
        format="multipart",
    )
    assert again.status_code == 201, again.content


def _file_assessment():
    """A test_read_file assessment whose input is stored directly (not through the proxy)."""
    tenant = build_tenant(unique_name("clinic-s3"))
    patient = make_patient(tenant)
    with organization_scope(tenant.organization):
        return services.create_assessment(
            actor="system:test", organization=tenant.organization, patient=patient, modality="test_read_file",
            inputs={}, files=[upload("trace.pdf", PDF, "application/pdf")],
        )


def _worker_through(proxy, isolated_workers, name, base_seconds):
    return isolated_workers.start(name, extra={
        "AWS_S3_ENDPOINT_URL": f"http://{proxy.url_netloc}",
        "AWS_S3_MAX_ATTEMPTS": "1",
        "ASSESSMENT_RETRY_BASE_SECONDS": base_seconds,
    })


def _retry_delays(worker, assessment) -> list[float]:
    pattern = re.compile(rf"assessment {assessment.pk}: storage unavailable .*; retry in ([0-9.]+)s")
    return [float(m.group(1)) for m in pattern.finditer(worker.log_path.read_text(errors="replace"))]


def test_a_worker_that_cannot_read_its_input_retries_with_backoff_then_fails_with_a_reason(
    s3_proxy, isolated_publishing, isolated_workers
):
    s3_proxy.cut()
    assessment = _file_assessment()
    worker = _worker_through(s3_proxy, isolated_workers, "s3-down", "0.1")
    failed = wait_for_status(assessment.pk, {"completed", "failed"}, timeout=60)
    assert failed.status == "failed"
    assert failed.failure_reason == "The file store was unavailable for too long. Retry the assessment."
    delays = _retry_delays(worker, assessment)
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2]  # the first try and five retries, each wait doubling


def test_a_worker_completes_when_s3_comes_back_within_its_retries(s3_proxy, isolated_publishing, isolated_workers):
    s3_proxy.cut()
    assessment = _file_assessment()
    worker = _worker_through(s3_proxy, isolated_workers, "s3-back", "0.5")
    wait_until(lambda: _retry_delays(worker, assessment), timeout=30, message="the worker never tried to read")
    s3_proxy.restore()
    wait_for_status(assessment.pk, {"completed", "failed"}, timeout=60)
    assert_completed_once(assessment.pk, biomarkers=1)
    with scopes_disabled():
        assert BiomarkerValue.objects.get(assessment_id=assessment.pk).value == len(PDF)  # read through S3
