"""The portal's result versions: the version list with its files, the re-analysis button (confirmed first),
the artifacts' audited same-origin reads, and tenancy on them. Artifacts come from the test-only
``test_artifacts`` analyzer (medilens/testing/analyzers.py)."""

import hashlib

import pytest

from accounts.roles import Role
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


def _artifact(assessment, role):
    with scopes_disabled():
        return ResultArtifact.objects.get(version__assessment=assessment, role=role)


def test_the_results_page_lists_each_version_with_its_files_and_the_viewer(tenant_a, completed):
    response = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{completed.pk}/")
    page = response.content.decode()
    assert response.status_code == 200
    viewer, still = _artifact(completed, "viewer"), _artifact(completed, "image")
    assert "Result versions" in page and "Version 1 is not signed off." in page
    assert hashlib.sha256(box_glb(texture_png=analyzers.still_png())).hexdigest() in page
    assert "GLB (glTF binary)" in page and "test_artifacts 1" in page
    assert f'src="/artifacts/{viewer.pk}/view/"' in page
    assert f'<img slot="poster" class="model-still" src="/artifacts/{still.pk}/view/"' in page
    assert "vendor/model-viewer/model-viewer.min.js" in page


def test_a_page_without_a_3d_result_loads_no_viewer(tenant_a):
    assessment = make_assessment(tenant_a, make_patient(tenant_a), run=True)
    page = tenant_a.client_for(Role.CLINICIAN).get(f"/assessments/{assessment.pk}/").content.decode()
    assert "Result versions" in page and "model-viewer" not in page


def test_reanalyse_asks_first_then_queues_and_the_page_names_the_signed_version(tenant_a, completed):
    client = tenant_a.client_for(Role.CLINICIAN)
    client.post(f"/assessments/{completed.pk}/sign-off/", {"note": "", "version": "1"})
    url = f"/assessments/{completed.pk}/reanalyse/"
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 200
        assert "Analyse this assessment again as version 2?" in response.content.decode()
    assert Assessment.objects.with_scopes_disabled().get(pk=completed.pk).status == "completed"
    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    with organization_scope(tenant_a.organization):
        assert pipeline.run(completed.pk) == "completed"
    page = client.get(f"/assessments/{completed.pk}/").content.decode()
    assert "Signed off version 1; version 2 is not signed off." in page
    assert "Sign off these results (version 2)" in page


def test_reanalyse_of_an_assessment_that_is_not_completed_is_refused_on_the_page(tenant_a):
    queued = make_assessment(tenant_a, make_patient(tenant_a), modality="test_artifacts")
    response = tenant_a.client_for(Role.CLINICIAN).post(f"/assessments/{queued.pk}/reanalyse/", {"confirm": "yes"})
    assert response.status_code == 400
    assert "Only a completed assessment can be re-analysed." in response.content.decode()
    assert Assessment.objects.with_scopes_disabled().get(pk=queued.pk).status == "queued"


def test_a_technician_sees_no_button_and_is_refused(tenant_a, completed):
    client = tenant_a.client_for(Role.TECHNICIAN)
    assert "/reanalyse/" not in client.get(f"/assessments/{completed.pk}/").content.decode()
    assert client.post(f"/assessments/{completed.pk}/reanalyse/", {"confirm": "yes"}).status_code == 403
    with scopes_disabled():
        assert ResultVersion.objects.filter(assessment=completed).count() == 1
    assert Assessment.objects.with_scopes_disabled().get(pk=completed.pk).status == "completed"


@pytest.mark.parametrize("route,disposition", [("download", "attachment"), ("view", "inline")])
def test_an_artifact_is_streamed_from_this_origin_and_audited(tenant_a, completed, route, disposition):
    viewer = _artifact(completed, "viewer")
    response = tenant_a.client_for(Role.CLINICIAN).get(f"/artifacts/{viewer.pk}/{route}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == box_glb(texture_png=analyzers.still_png())
    assert response["Content-Type"] == "model/gltf-binary"
    assert response["Content-Disposition"].startswith(disposition)
    assert "v1-scan-viewer.glb" in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="artifact.downloaded", target_id=str(viewer.pk))
    assert event.details["version"] == 1 and event.details["patients"] == [str(completed.patient_id)]


def test_another_organizations_artifact_is_a_404_and_not_audited(tenant_a, tenant_b, completed):
    viewer = _artifact(completed, "viewer")
    client = tenant_b.client_for(Role.CLINICIAN)
    for route in ("download", "view"):
        assert client.get(f"/artifacts/{viewer.pk}/{route}/").status_code == 404
    assert not AuditEvent.objects.filter(action="artifact.downloaded").exists()


def test_a_technician_may_not_read_artifacts(tenant_a, completed):
    viewer = _artifact(completed, "viewer")
    assert tenant_a.client_for(Role.TECHNICIAN).get(f"/artifacts/{viewer.pk}/view/").status_code == 403
