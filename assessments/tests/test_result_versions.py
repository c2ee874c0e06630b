"""Result versions: every analysis writes version N with its artifacts; a re-analysis adds N+1 beside the
earlier ones; a sign-off names the version it signs; refusals change nothing.

The artifacts come from ``test_artifacts`` (medilens/testing/analyzers.py, registered under the test settings
only): a box written as GLB by hand, a PNG and a JSON, as the body scan will write its mesh and slices."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from assessments import pipeline, services
from assessments.models import Assessment, BiomarkerValue, ResultArtifact, ResultVersion
from assessments.tests.portal import make_assessment, make_patient
from audit.models import AuditEvent
from medilens.testing import analyzers
from medilens.testing.glb import box_glb

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(tenant_a):
    patient = make_patient(tenant_a)
    return make_assessment(tenant_a, patient, modality="test_artifacts", run=True)


def _state(assessment):
    with scopes_disabled():
        row = Assessment.objects.filter(pk=assessment.pk).values_list(
            "status", "reviewed_at", "risk_score", "method_version"
        ).get()
        versions = list(ResultVersion.objects.filter(assessment=assessment).values_list("number", "signed_off_at"))
        artifacts = ResultArtifact.objects.filter(version__assessment=assessment).count()
    return row, versions, artifacts


def _reanalyse(tenant, assessment, role=Role.CLINICIAN):
    with organization_scope(tenant.organization):
        return services.reanalyse_assessment(
            actor=tenant.users[role], organization=tenant.organization, assessment=assessment
        )


def test_an_analysis_writes_version_one_with_its_artifacts(tenant_a, completed):
    assert completed.status == "completed"
    with organization_scope(tenant_a.organization):
        version = ResultVersion.objects.get(assessment=completed)
        artifacts = {a.role: a for a in version.artifacts.all()}
    assert version.number == 1
    assert (version.risk_score, version.risk_level, version.method_version) == (12.0, "low", "test_artifacts 1")
    assert [b["name"] for b in version.biomarkers] == ["test_points"] and version.biomarkers[0]["value"] == 12.0
    assert sorted(artifacts) == ["data", "image", "model", "viewer"]
    viewer = artifacts["viewer"]
    expected = box_glb(texture_png=analyzers.still_png())
    assert viewer.size == len(expected) and viewer.sha256 == hashlib.sha256(expected).hexdigest()
    assert viewer.analyzer_version == "test_artifacts 1" and viewer.content_type == "model/gltf-binary"
    prefix = f"org/{tenant_a.organization.pk}/assessments/{completed.pk}/results/v1/"
    assert all(a.storage_key.startswith(prefix) for a in artifacts.values())
    with default_storage.open(viewer.storage_key, "rb") as handle:
        assert handle.read() == expected


def test_a_reanalysis_makes_version_two_and_keeps_version_one(tenant_a, completed, monkeypatch):
    with organization_scope(tenant_a.organization):
        first_keys = set(ResultArtifact.objects.values_list("storage_key", flat=True))
        first_biomarker = BiomarkerValue.objects.get(assessment=completed)
    monkeypatch.setitem(analyzers.ARTIFACT_RUN, "method_version", "test_artifacts 2")
    monkeypatch.setitem(analyzers.ARTIFACT_RUN, "points", 30.0)
    queued = _reanalyse(tenant_a, completed)
    assert queued.status == "queued"
    with organization_scope(tenant_a.organization):
        assert pipeline.run(completed.pk) == "completed"
        completed.refresh_from_db()
        versions = list(ResultVersion.objects.filter(assessment=completed).order_by("number"))
        second_keys = set(ResultArtifact.objects.filter(version=versions[1]).values_list("storage_key", flat=True))
        latest = BiomarkerValue.objects.get(assessment=completed)
    assert [v.number for v in versions] == [1, 2]
    assert (versions[0].risk_score, versions[0].method_version) == (12.0, "test_artifacts 1")
    assert versions[0].biomarkers[0]["value"] == 12.0
    assert (versions[1].risk_score, versions[1].method_version) == (30.0, "test_artifacts 2")
    # The assessment row and the biomarker rows (trends) show the latest version; the row keeps its id and the
    # time it was measured (the input's, not the re-analysis's).
    assert (completed.risk_score, completed.method_version) == (30.0, "test_artifacts 2")
    assert (latest.pk, latest.value, latest.measured_at) == (first_biomarker.pk, 30.0, first_biomarker.measured_at)
    # Version 1's files are still there, untouched; version 2's are new objects under v2/.
    assert first_keys.isdisjoint(second_keys) and len(second_keys) == 4
    assert all("/results/v2/" in key for key in second_keys)
    assert all(default_storage.exists(key) for key in first_keys | second_keys)
    actions = list(
        AuditEvent.objects.filter(target_id=str(completed.pk)).order_by("sequence").values_list("action", flat=True)
    )
    assert actions[-4:] == [
        "assessment.queued", "assessment.reanalysis_requested", "assessment.running", "assessment.completed"
    ]


def test_a_sign_off_names_its_version_and_a_reanalysis_clears_it_for_the_new_one(tenant_a, completed):
    clinician = tenant_a.users[Role.CLINICIAN]
    with organization_scope(tenant_a.organization):
        services.sign_off(actor=clinician, assessment=completed, note="Looks right.", version=1)
    _reanalyse(tenant_a, completed)
    with organization_scope(tenant_a.organization):
        assessment = Assessment.objects.get(pk=completed.pk)
        assert assessment.reviewed_at is None and assessment.review_note == ""
        # Signing "version 1" now is refused: it is no longer what the assessment shows.
        pipeline.run(completed.pk)
        assessment.refresh_from_db()
        assert assessment.is_preliminary
        with pytest.raises(services.TransitionRefused, match="Version 1 is not the latest"):
            services.sign_off(actor=clinician, assessment=assessment, version=1)
        first, second = ResultVersion.objects.filter(assessment=completed).order_by("number")
    assert (first.signed_off_by_id, first.review_note) == (clinician.pk, "Looks right.")
    assert second.signed_off_at is None
    event = AuditEvent.objects.filter(target_id=str(completed.pk), action="assessment.signed_off").get()
    assert event.details["version"] == 1
    with organization_scope(tenant_a.organization):
        services.sign_off(actor=clinician, assessment=assessment, version=2)
        second.refresh_from_db()
    assert second.signed_off_by_id == clinician.pk


@pytest.mark.parametrize("status", ["queued", "failed"])
def test_a_reanalysis_of_an_assessment_that_is_not_completed_is_refused(tenant_a, status):
    assessment = make_assessment(tenant_a, make_patient(tenant_a), modality="test_artifacts")
    if status == "failed":
        with organization_scope(tenant_a.organization):
            services.transition(assessment.pk, "running", actor="system:test")
            services.transition(assessment.pk, "failed", actor="system:test", reason="test")
    before = _state(assessment)
    with pytest.raises(services.TransitionRefused, match="Only a completed assessment"):
        _reanalyse(tenant_a, assessment)
    assert _state(assessment) == before


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.AUDITOR])
def test_a_reanalysis_by_a_role_without_manage_is_refused(tenant_a, completed, role):
    before = _state(completed)
    with pytest.raises(services.TransitionRefused, match="permission"):
        _reanalyse(tenant_a, completed, role=role)
    assert _state(completed) == before
    assert not AuditEvent.objects.filter(action="assessment.reanalysis_requested").exists()


def test_a_plain_transition_never_moves_a_completed_assessment(tenant_a, completed):
    with organization_scope(tenant_a.organization), pytest.raises(services.TransitionRefused):
        services.transition(completed.pk, "queued", actor="system:test")


def test_a_running_reanalysis_is_not_cancelled(tenant_a, completed):
    _reanalyse(tenant_a, completed)
    with organization_scope(tenant_a.organization), pytest.raises(services.TransitionRefused, match="re-analysis"):
        services.cancel_assessment(actor=tenant_a.users[Role.CLINICIAN], assessment=completed)
    assert Assessment.objects.with_scopes_disabled().get(pk=completed.pk).status == "queued"


def test_a_save_for_a_version_written_meanwhile_writes_nothing_and_deletes_its_uploads(
    tenant_a, completed, monkeypatch
):
    """A delivery that guessed a version number another delivery has taken (it read the count before the
    lock) records nothing, and deletes what it uploaded, not the other delivery's objects."""
    from assessments import version_services

    real = version_services.next_version_number
    guesses = iter([1])  # the pre-lock guess: stale; under the lock the real count decides

    def stale_then_real(assessment_id):
        return next(guesses, None) or real(assessment_id)

    _reanalyse(tenant_a, completed)
    monkeypatch.setattr(version_services, "next_version_number", stale_then_real)
    prefix = f"org/{tenant_a.organization.pk}/assessments/{completed.pk}/results/"
    before = _stored_under(prefix)
    with organization_scope(tenant_a.organization):
        assert pipeline.run(completed.pk) == "cancelled"
        assert ResultVersion.objects.filter(assessment=completed).count() == 1
    assert _stored_under(prefix) == before and len(before) == 4


def _stored_under(prefix):
    from assessments.sweep import _stored_objects

    return sorted(key for key, _ in _stored_objects() if key.startswith(prefix))


def test_the_orphan_sweep_keeps_every_versions_artifacts_and_removes_an_unrecorded_one(tenant_a, completed):
    from django.core.files.base import ContentFile

    from assessments.sweep import sweep_orphans
    from medilens import storage

    _reanalyse(tenant_a, completed)
    with organization_scope(tenant_a.organization):
        pipeline.run(completed.pk)
        rows = ResultArtifact.objects.filter(version__assessment=completed)
        recorded = list(rows.values_list("storage_key", flat=True))
    # What a worker killed between its upload and its commit leaves behind.
    orphan = f"org/{tenant_a.organization.pk}/assessments/{completed.pk}/results/v3/{'0' * 32}.glb"
    storage.store(orphan, ContentFile(box_glb()))
    assert sweep_orphans(grace_seconds=-60) >= 1
    assert not default_storage.exists(orphan)
    assert len(recorded) == 8 and all(default_storage.exists(key) for key in recorded)
