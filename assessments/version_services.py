"""Result versions: writing version N with its artifacts, re-analysis, and the artifacts' audited reads.

Every analysis writes a version: the first makes version 1, each re-analysis version N+1 beside the
earlier ones (never overwriting them); the assessment row and its ``BiomarkerValue`` rows show the latest.

Storage is not transactional and is slow: artifacts are uploaded *before* the short transaction that
records them (``upload_artifacts``), never under the assessment's row lock. A failure between the upload and
the commit leaves objects no row names; the caller deletes them, and the orphan sweep (``assessments.sweep``)
removes whatever a crash left.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

import audit
from accounts.models import ApiClient, Membership
from accounts.roles import role_has
from medilens import storage

from .models import Assessment, ResultArtifact, ResultVersion
from .status_services import TransitionRefused, apply_transition, lock

Status = Assessment.Status

# What a re-analysis needs: the same permission as cancel and retry.
REANALYSE_PERMISSION = "assessments.manage"
_EXTENSIONS = {
    "model/gltf-binary": "glb",
    "image/png": "png",
    "application/json": "json",
}


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact already in storage, waiting for its row."""

    name: str
    role: str
    label: str
    content_type: str
    size: int
    sha256: str
    storage_key: str


def next_version_number(assessment_id) -> int:
    latest = ResultVersion.objects.filter(assessment_id=assessment_id).aggregate(n=Max("number"))["n"]
    return (latest or 0) + 1


def artifact_prefix(organization_id: int, assessment_id, number: int) -> str:
    """Where version ``number``'s files live: no PHI, only ids (see medilens.storage.object_key)."""
    return f"org/{organization_id}/assessments/{assessment_id}/results/v{number}/"


def upload_artifacts(*, organization_id: int, assessment_id, number: int, artifacts) -> list[StoredArtifact]:
    """Store each artifact under the version's prefix with a random name (a redelivered analysis writing the
    same version number never overwrites, or deletes, the other delivery's objects). On failure the objects
    written so far are deleted and the error raised."""
    stored: list[StoredArtifact] = []
    try:
        for artifact in artifacts:
            extension = _EXTENSIONS.get(artifact.content_type, "bin")
            key = f"{artifact_prefix(organization_id, assessment_id, number)}{uuid.uuid4().hex}.{extension}"
            storage.store(key, ContentFile(artifact.data))
            stored.append(
                StoredArtifact(
                    name=artifact.name[:120], role=artifact.role, label=artifact.label[:200],
                    content_type=artifact.content_type, size=len(artifact.data),
                    sha256=hashlib.sha256(artifact.data).hexdigest(), storage_key=key,
                )
            )
    except BaseException:
        storage.delete_quietly([item.storage_key for item in stored])
        raise
    return stored


def biomarker_snapshot(rows) -> list[dict]:
    """A version's biomarker values, as the BiomarkerValue rows of that analysis hold them."""
    return [
        {
            "name": row.name, "category": row.category, "value": row.value, "unit": row.unit,
            "reference_low": row.reference_low, "reference_high": row.reference_high,
            "reference_low_inclusive": row.reference_low_inclusive,
            "reference_high_inclusive": row.reference_high_inclusive,
            "flag": row.flag, "measured_at": row.measured_at.isoformat(),
        }
        for row in sorted(rows, key=lambda row: (row.category, row.name))
    ]


def record_version(*, assessment: Assessment, number: int, biomarkers, explanation, artifacts) -> ResultVersion:
    """Inside the worker's transaction, with the assessment locked and its result fields set: version
    ``number`` and its artifacts' rows."""
    version = build_version(assessment=assessment, number=number, biomarkers=biomarkers, explanation=explanation)
    version.save(force_insert=True)
    ResultArtifact.objects.bulk_create(
        ResultArtifact(
            organization_id=assessment.organization_id,
            version=version,
            name=item.name,
            role=item.role,
            label=item.label,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            storage_key=item.storage_key,
            analyzer_version=assessment.method_version[:200],
        )
        for item in artifacts
    )
    return version


def build_version(*, assessment: Assessment, number: int, biomarkers, explanation) -> ResultVersion:
    """Version ``number`` of an assessment whose result fields are set, unsaved: ``record_version`` saves it
    with its artifacts; the worker's batch of first analyses (result_services.write_first_results) inserts
    many in one statement (its key is a UUID, known before the insert, so its sealed field can be sealed)."""
    return ResultVersion(
        organization_id=assessment.organization_id,
        assessment=assessment,
        number=number,
        risk_score=assessment.risk_score,
        risk_level=assessment.risk_level,
        confidence=assessment.confidence,
        recommendations=assessment.recommendations,
        results=assessment.results,
        biomarkers=biomarker_snapshot(biomarkers),
        method_version=assessment.method_version,
        model_version_id=assessment.model_version_id,
        explanation_summary=explanation.summary,
        explanation_contributions=explanation.contributions,
        explanation_image_key=explanation.image_key,
    )


def may(actor, organization, permission: str) -> bool:
    """Whether the actor (a member or an API client) holds ``permission`` in ``organization``: the services'
    own check, behind the views' ``required_permission``."""
    if isinstance(actor, ApiClient):
        return actor.organization_id == organization.pk and actor.has_permission(permission)
    if not getattr(actor, "is_authenticated", False):
        return False
    role = Membership.objects.filter(organization=organization, user=actor).values_list("role", flat=True).first()
    return role_has(role, permission)


def reanalyse_assessment(*, actor, organization, assessment: Assessment) -> Assessment:
    """Queue a completed assessment for another analysis (after an analyzer upgrade, say). The run adds
    version N+1; version N and its files stay. The sign-off belonged to version N: the assessment reads as
    preliminary again until someone signs the new version (version N keeps its sign-off record).

    Decided under the row lock: only a completed assessment, only by a holder of assessments.manage."""
    if not may(actor, organization, REANALYSE_PERMISSION):
        raise TransitionRefused("Re-analysis needs the permission to manage assessments.")
    with transaction.atomic():
        locked = lock(assessment.pk, organization=organization)
        if locked.status != Status.COMPLETED:
            raise TransitionRefused("Only a completed assessment can be re-analysed.")
        current = next_version_number(locked.pk) - 1
        signed = locked.reviewed_at is not None
        locked.reviewed_by = None
        locked.reviewed_at = None
        locked.review_note = ""
        locked.review_acknowledged_reference_model = False
        locked.reaper_requeues = 0
        apply_transition(locked, Status.QUEUED, actor=actor, reanalysis=True)
        audit.record(
            action="assessment.reanalysis_requested",
            actor=actor,
            organization=organization,
            target=locked,
            details={"version": current, "next_version": current + 1, "signed_off_version_cleared": signed},
        )
    return locked


def latest_version(assessment: Assessment) -> ResultVersion | None:
    return ResultVersion.objects.filter(assessment=assessment).order_by("-number").first()


def record_artifact_read(*, action: str, actor, item: ResultArtifact, via: str) -> None:
    """An artifact read (a download, a URL issued, the viewer's stream): always recorded, like input files'
    downloads (not only when read auditing is on)."""
    assessment = item.version.assessment
    audit.record(
        action=action,
        actor=actor,
        organization_id=assessment.organization_id,
        target=item,
        details={
            "assessment_id": str(assessment.pk), "version": item.version.number, "role": item.role, "via": via,
            "patients": [str(assessment.patient_id)],
        },
    )
