"""Remove stored objects that no row references.

Object storage is not transactional: a request that stored a file and then failed to commit (or a
worker that died between writing an explanation image and saving its row) leaves an object behind.
Requests delete what they wrote when they fail; this periodic sweep catches the rest. Objects younger
than the grace period are left alone, since their transaction may still be in flight.
"""

import logging
from datetime import timedelta

from django.core.files.storage import default_storage, storages
from django.utils import timezone

from accounts.tenancy import scopes_disabled
from medilens import storage
from medilens.rls import maintenance

from .models import AIExplanation, ResultArtifact, ResultVersion, UploadedFile

logger = logging.getLogger(__name__)
PREFIX = "org/"


def _stored_objects():
    """Yield (key, last_modified) under PREFIX."""
    if storage.is_object_store():
        for summary in storages["default"].bucket.objects.filter(Prefix=PREFIX):
            yield summary.key, summary.last_modified
        return

    def walk(path):
        try:
            directories, files = default_storage.listdir(path)
        except FileNotFoundError:
            return
        for name in files:
            key = f"{path}{name}"
            yield key, default_storage.get_modified_time(key)
        for directory in directories:
            yield from walk(f"{path}{directory}/")

    yield from walk(PREFIX)


def _referenced_keys() -> set[str]:
    # Every organization's keys: through the maintenance role (BYPASSRLS), never the application role, under
    # which Row-Level Security would return no keys and make every object look orphaned.
    using = maintenance.alias()
    maintenance.require_all_rows(using)
    with scopes_disabled():
        keys = set(UploadedFile.objects.using(using).values_list("storage_key", flat=True))
        explanations = AIExplanation.objects.using(using).exclude(image_key="")
        keys.update(k for k in explanations.values_list("image_key", flat=True))
        # Result versions (org/<org>/assessments/<id>/results/v<N>/...): their artifacts, and the explanation
        # image each version keeps after a re-analysis replaced the assessment's explanation.
        keys.update(ResultArtifact.objects.using(using).values_list("storage_key", flat=True))
        versions = ResultVersion.objects.using(using).exclude(explanation_image_key="")
        keys.update(versions.values_list("explanation_image_key", flat=True))
    return keys


def sweep_orphans(*, grace_seconds: int = 3600) -> int:
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    candidates = [key for key, modified in _stored_objects() if modified < cutoff]
    if not candidates:
        return 0
    referenced = _referenced_keys()
    orphans = [key for key in candidates if key not in referenced]
    storage.delete_quietly(orphans)
    if orphans:
        logger.info("orphan sweep removed %d object(s)", len(orphans))
    return len(orphans)
