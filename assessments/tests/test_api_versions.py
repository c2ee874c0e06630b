"""API v1 result versions: the artifacts list (every version, a bounded number of queries), the audited
download URL, re-analysis (POST /assessments/<id>/reanalyse/), and tenancy. Artifacts come from the test-only
``test_artifacts`` analyzer (medilens/testing/analyzers.py)."""

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline
from assessments.models import Assessment, ResultArtifact, ResultVersion
from assessments.tests.portal import make_assessment, make_patient
from audit.models import AuditEvent
from medilens.testing import analyzers
from medilens.testing.glb import box_glb

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(tenant_a):
    return make_assessment(tenant_a, make_patient(tenant_a), modality="test_artifacts", run=True)


def _reanalyse_and_run(tenant, assessment):
    response = tenant.api("clinician").post(f"/api/v1/assessments/{assessment.pk}/reanalyse/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    with organization_scope(tenant.organization):
        assert pipeline.run(assessment.pk) == "completed"


def test_the_artifacts_list_has_every_version_newest_first(tenant_a, completed, monkeypatch):
    monkeypatch.setitem(analyzers.ARTIFACT_RUN, "method_version", "test_artifacts 2")
    _reanalyse_and_run(tenant_a, completed)
    response = tenant_a.api("read_only").get(f"/api/v1/assessments/{completed.pk}/artifacts/")
    assert response.status_code == 200
    body = response.json()
    assert [v["number"] for v in body] == [2, 1]
    assert [v["analyzer_version"] for v in body] == ["test_artifacts 2", "test_artifacts 1"]
    viewer = next(a for a in body[1]["artifacts"] if a["role"] == "viewer")
    assert viewer["format"] == "GLB (glTF binary)" and viewer["size"] == len(box_glb(texture_png=analyzers.still_png()))
    assert viewer["sha256"] == hashlib.sha256(box_glb(texture_png=analyzers.still_png())).hexdigest()
    event = AuditEvent.objects.get(action="artifact.listed")
    assert event.details["count"] == 8 and event.details["patients"] == [str(completed.patient_id)]


def test_the_artifacts_list_does_not_grow_in_queries_with_versions(tenant_a, completed):
    api = tenant_a.api("read_only")
    url = f"/api/v1/assessments/{completed.pk}/artifacts/"
    api.get(url)  # the key's last-used time is written once a minute: not in the counts
    with CaptureQueriesContext(connection) as one:
        assert len(api.get(url).json()) == 1
    for _ in range(3):
        _reanalyse_and_run(tenant_a, completed)
    with CaptureQueriesContext(connection) as four:
        assert len(api.get(url).json()) == 4
    assert len(four.captured_queries) == len(one.captured_queries) <= 12


def test_an_artifact_download_url_is_audited(tenant_a, completed):
    with scopes_disabled():
        item = ResultArtifact.objects.get(version__assessment=completed, role="data")
    response = tenant_a.api("read_only").get(f"/api/v1/artifacts/{item.pk}/download/")
    assert response.status_code == 200 and response.json()["expires_in"] == 300
    event = AuditEvent.objects.get(action="artifact.download_url_issued", target_id=str(item.pk))
    assert event.details["version"] == 1 and event.details["via"] == "api"


def test_another_organizations_artifacts_are_a_404(tenant_a, tenant_b, completed):
    with scopes_disabled():
        item = ResultArtifact.objects.filter(version__assessment=completed).first()
    api = tenant_b.api("clinician")
    assert api.get(f"/api/v1/assessments/{completed.pk}/artifacts/").status_code == 404
    assert api.get(f"/api/v1/artifacts/{item.pk}/download/").status_code == 404
    assert api.post(f"/api/v1/assessments/{completed.pk}/reanalyse/").status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="artifact.").exists()
    assert Assessment.objects.with_scopes_disabled().get(pk=completed.pk).status == "completed"


def test_reanalyse_is_refused_for_a_read_only_key_and_for_an_assessment_not_completed(tenant_a, completed):
    assert tenant_a.api("read_only").post(f"/api/v1/assessments/{completed.pk}/reanalyse/").status_code == 403
    queued = make_assessment(tenant_a, make_patient(tenant_a, mrn="P-2"), modality="test_artifacts")
    response = tenant_a.api("clinician").post(f"/api/v1/assessments/{queued.pk}/reanalyse/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
    with scopes_disabled():
        assert Assessment.objects.get(pk=completed.pk).status == "completed"
        assert Assessment.objects.get(pk=queued.pk).status == "queued"
        assert ResultVersion.objects.filter(assessment__in=[completed, queued]).count() == 1
