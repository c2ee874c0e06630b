"""What other apps call when something worth a notification happens. Each queues a task after the
caller's transaction commits (never for a change that may roll back); the task finds who to tell."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def _after_commit(task, *args) -> None:
    def publish():
        try:
            task.delay(*args)
        except Exception:
            # The broker is down: the event itself is saved and audited; its notification is lost, said here.
            logger.exception("could not queue %s", task.name)

    transaction.on_commit(publish)


def assessment_finished(assessment) -> None:
    """An assessment completed or failed (assessments.status_services). No task when it would tell nobody
    (``tasks.anyone_to_tell``): a partner's assessment with no high-risk result, most of what the API submits."""
    from .tasks import anyone_to_tell, notify_assessment_finished

    if anyone_to_tell(assessment):
        _after_commit(notify_assessment_finished, str(assessment.pk))


def discussion_message_posted(message) -> None:
    from .tasks import notify_mentions

    _after_commit(notify_mentions, message.organization_id, message.pk)


def bulk_access_detected(*, organization_id: int, alert_id: int) -> None:
    from .tasks import notify_bulk_access

    _after_commit(notify_bulk_access, organization_id, alert_id)
