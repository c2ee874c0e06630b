"""Reading result artifacts: the version list with its files (one query per kind of row), and each file's
audited read, either streamed through Django (same origin: the portal's 3D viewer and still image, and the
portal's downloads) or handed out as a short-lived URL (the API, like input files).

The permission check is the caller's (views naming ``assessments.view_results``); the artifact is found
through the tenant-scoped manager, so another organization's id is a 404 before anything here runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from medilens import storage

from . import version_services
from .models import Assessment, ResultArtifact, ResultVersion

# The Content-Security-Policy of a page that shows the 3D viewer: the site's policy plus the least model-viewer
# 4.4.0 needs, found in Chromium (tests/browser/test_browser_viewer.py):
# - style-src: the hash of the one <style> element model-viewer renders into its shadow root (its layout; refused,
#   the canvas has no size and its hidden controls show). Any other inline style stays blocked.
# - connect-src blob:: three.js's glTF loader reads a GLB's embedded textures by fetching blob: URLs it made from
#   the file's own bytes (an organization may keep a scan's texture). Plain and vertex-coloured GLBs need none.
# Not widened: the GLB and the still come from this origin ('self'); no worker-src (workers are only for
# Draco/KTX2-compressed models, which MediLens never writes); no 'wasm-unsafe-eval': the bundled meshopt decoder
# probes WebAssembly when the script loads and the policy refuses it, which only leaves meshopt-compressed models
# unreadable (MediLens writes none). assessments/tests/test_viewer_policy.py recomputes the hash from the vendored
# file, so a model-viewer update that changes its stylesheet fails there with the new hash.
VIEWER_POLICY = {
    "style-src": ["'sha256-PXtZZkJMMyc18o/DN1ZEFOJ2qEGq95IQbVaJFMOXOb0='"],
    "connect-src": ["blob:"],
}
# The 3D viewer shows the "viewer" artifact (the model with its measurement slices), else the plain model.
VIEWER_ROLES = ("viewer", "model")


def versions(assessment: Assessment) -> QuerySet[ResultVersion]:
    """Newest first, with who signed each and its artifacts: three queries however many versions."""
    return (
        ResultVersion.objects.filter(assessment=assessment)
        .select_related("signed_off_by")
        .prefetch_related(Prefetch("artifacts", queryset=ResultArtifact.objects.order_by("id")))
        .order_by("-number")
    )


def artifact(pk) -> ResultArtifact:
    """Raises ResultArtifact.DoesNotExist (a 404) for an id outside the organization."""
    return ResultArtifact.objects.select_related("version__assessment").get(pk=pk)


@dataclass(frozen=True)
class Viewer:
    model: ResultArtifact
    still: ResultArtifact | None


def viewer(version: ResultVersion | None) -> Viewer | None:
    """What the 3D viewer shows for a version: its viewer (else model) GLB, with its image as the still."""
    if version is None:
        return None
    by_role: dict[str, ResultArtifact] = {}
    for item in version.artifacts.all():
        by_role.setdefault(item.role, item)
    model = next((by_role[role] for role in VIEWER_ROLES if role in by_role), None)
    return Viewer(model=model, still=by_role.get("image")) if model else None


def signed_off_summary(rows: list[ResultVersion]) -> str:
    """"Signed off version 1; version 2 is not signed off." (newest-first rows)."""
    if not rows:
        return ""
    latest = rows[0]
    signed = [row.number for row in rows if row.signed_off_at]
    if latest.signed_off_at:
        return f"Version {latest.number}, the latest, is signed off."
    if signed:
        return f"Signed off version {max(signed)}; version {latest.number} is not signed off."
    return f"Version {latest.number} is not signed off."


def open_for(*, actor, item: ResultArtifact, via: str):
    """The artifact's bytes (an open file), its read audited first."""
    handle = storage.open_object(item.storage_key)
    version_services.record_artifact_read(action="artifact.downloaded", actor=actor, item=item, via=via)
    return handle


def download_url(*, actor, item: ResultArtifact) -> str:
    """A five-minute URL (as for input files), its issue audited."""
    url = storage.download_url(item.storage_key, download_name(item), item.content_type, issued_to=actor)
    version_services.record_artifact_read(action="artifact.download_url_issued", actor=actor, item=item, via="api")
    return url


def download_name(item: ResultArtifact) -> str:
    """The file name a download gets: the version and the analyzer's name (no PHI, see Artifact.name)."""
    return f"v{item.version.number}-{item.name}"
