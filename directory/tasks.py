"""Celery: import a source now, and the scheduled imports (beat: directory-import-finess, -openmedic).

acks_late is off on purpose: an import runs for minutes (longer than the broker's visibility timeout
would allow on a redelivery) and a redelivered import would run twice; a lost run is retried by the
next schedule, and a file already imported is a no-op anyway.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from audit import context as audit_context

from .models import Source
from .services import ImportRefused, ImportRequest, run_import

logger = logging.getLogger(__name__)
URL_SETTINGS = {Source.FINESS: "DIRECTORY_FINESS_URL", Source.OPENMEDIC: "DIRECTORY_OPENMEDIC_URL"}


@shared_task(ignore_result=True, acks_late=False, time_limit=4 * 60 * 60)
def import_directory(source: str, url: str = "", user_id: int | None = None) -> int | None:
    """Import `source` from `url` (or its URL setting); returns the import's id, None when there is no URL."""
    url = url or getattr(settings, URL_SETTINGS.get(source, ""), "")
    if not url:
        logger.info("directory import of %s skipped: %s is empty", source, URL_SETTINGS.get(source, "no setting"))
        return None
    actor = get_user_model().objects.get(pk=user_id) if user_id else None
    try:
        with audit_context.bind(request_id=f"task-directory-{source}"):
            record = run_import(request=ImportRequest(source=source, url=url), actor=actor)
    except ImportRefused as error:  # another import of the source is running: this one is not needed
        logger.warning("directory import of %s not started: %s", source, error)
        return None
    logger.info("directory import %s of %s: %s %s", record.pk, source, record.status, record.reason[:200])
    return record.pk


@shared_task(ignore_result=True, acks_late=False)
def scheduled_import(source: str) -> int | None:
    """Beat's entry: the same import, from the source's URL setting only (nothing is downloaded while it is empty)."""
    return import_directory(source)
