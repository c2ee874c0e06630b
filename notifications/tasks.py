"""Celery tasks that turn an event into notifications. Each takes ids, works in the event's organization
scope, and may run twice (acks_late): ``services.notify`` keys every notification by event and recipient."""

from __future__ import annotations

import logging

from celery import shared_task
from django.urls import reverse

from accounts.models import Membership, Organization
from accounts.roles import Role
from accounts.tenancy import organization_scope, scopes_disabled
from medilens.rls import context as row_security

from . import mentions, services
from .kinds import Kind

logger = logging.getLogger(__name__)
TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (OSError,),  # the mail server or database was unreachable: try again later
    "retry_backoff": True,
    "max_retries": 5,
}


def _members(organization, role: str) -> list:
    return [
        membership.user
        for membership in Membership.objects.filter(organization=organization, role=role).select_related("user")
    ]


def _is_member(organization, user) -> bool:
    return user is not None and Membership.objects.filter(organization=organization, user=user).exists()


def _high_risk(assessment) -> bool:
    from assessments.models import Assessment

    return assessment.status == Assessment.Status.COMPLETED and assessment.risk_level == "high"


def anyone_to_tell(assessment) -> bool:
    """Whether ``notify_assessment_finished`` could tell anyone of this finished assessment: its requester (a
    person: a partner's API key is not told here; it has webhooks), or the clinicians of a high-risk result.
    Read from the row as it is saved, so publishing can skip a task that would find nobody."""
    return assessment.requested_by_id is not None or _high_risk(assessment)


@shared_task(**TASK_OPTIONS)
def notify_assessment_finished(assessment_id: str) -> int:
    """Tell the requester that their assessment completed or failed; tell the organization's clinicians
    about a high-risk result."""
    from assessments.models import Assessment

    # Row-Level Security: the application role may read this one assessment (app.assessment_id), as
    # run_assessment does, to learn its organization.
    with scopes_disabled(), row_security.bind(assessment_id=assessment_id):
        found = Assessment.objects.filter(pk=assessment_id).select_related("organization").first()
    if found is None:
        logger.warning("notify_assessment_finished: no assessment %s", assessment_id)
        return 0
    organization = found.organization
    with organization_scope(organization):
        assessment = Assessment.objects.select_related("requested_by").get(pk=assessment_id)
        link = reverse("assessments:assessment_detail", args=[assessment.pk])
        created = 0
        kind = {
            Assessment.Status.COMPLETED: Kind.ASSESSMENT_COMPLETED,
            Assessment.Status.FAILED: Kind.ASSESSMENT_FAILED,
        }.get(assessment.status)
        # A requester who has left the organization is told nothing about its patients.
        if kind and _is_member(organization, assessment.requested_by):
            created += len(services.notify(
                organization=organization, kind=kind, event_key=f"{kind}:{assessment.pk}:{assessment.attempts}",
                recipients=[assessment.requested_by], link=link,
            ))
        if _high_risk(assessment):
            created += len(services.notify(
                organization=organization, kind=Kind.HIGH_RISK, event_key=f"{Kind.HIGH_RISK}:{assessment.pk}",
                recipients=_members(organization, Role.CLINICIAN), link=link,
            ))
    return created


@shared_task(**TASK_OPTIONS)
def notify_mentions(organization_id: int, message_id: int) -> int:
    from assessments.models import DiscussionMessage

    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    with organization_scope(organization):
        message = DiscussionMessage.objects.select_related("author", "discussion").filter(pk=message_id).first()
        if message is None:
            return 0
        recipients = mentions.mentioned_members(message.body, organization=organization, exclude=message.author)
        return len(services.notify(
            organization=organization, kind=Kind.MENTION, event_key=f"{Kind.MENTION}:{message.pk}",
            recipients=recipients,
            link=reverse("assessments:assessment_detail", args=[message.discussion.assessment_id]) + "#discussion",
        ))


@shared_task(**TASK_OPTIONS)
def notify_bulk_access(organization_id: int, alert_id: int) -> int:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    with organization_scope(organization):
        return len(services.notify(
            organization=organization, kind=Kind.BULK_ACCESS, event_key=f"{Kind.BULK_ACCESS}:{alert_id}",
            recipients=_members(organization, Role.ORG_ADMIN), link=reverse("audit:log"),
        ))
