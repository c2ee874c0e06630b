"""A patient's timeline: the record, consent, each assessment's request and outcome, sign-offs and discussion
messages, newest first, as rows a template lists. Results (outcome levels, review notes, messages) only for
who may read results."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import Truncator

from modalities import registry

from . import selectors
from .models import Assessment
from .presenters import RISK_LEVEL_BADGES

EXCERPT_WORDS = 30
# An outcome, and the field that says when it happened.
OUTCOMES = {
    Assessment.Status.COMPLETED: ("completed", "completed_at"),
    Assessment.Status.FAILED: ("failed", "failed_at"),
    Assessment.Status.CANCELLED: ("cancelled", "cancelled_at"),
}


@dataclass
class Event:
    when: object
    kind: str  # record, consent, requested, completed, failed, cancelled, signed_off, message
    title: str
    who: str = ""
    detail: str = ""
    badge: str = ""
    badge_label: str = ""
    assessment_id: object = None
    anchor: str = ""


def _name(user) -> str:
    return (user.get_full_name() or "a member") if user is not None else ""


def events(patient, *, with_results: bool) -> tuple[list[Event], list[Assessment], bool]:
    """(events newest first, the assessments they cover, whether older ones were left out)."""
    assessments = selectors.timeline_assessments(patient)
    messages = selectors.timeline_messages(patient) if with_results else []
    labels = dict(registry.choices())
    rows = [Event(patient.created_at, "record", "Patient record created", _name(patient.created_by))]
    if patient.consent_recorded_at:
        consent_by = _name(patient.consent_recorded_by)
        rows.append(Event(patient.consent_recorded_at, "consent", "Consent recorded", consent_by))
    for assessment in assessments:
        rows.extend(_assessment_events(assessment, labels.get(assessment.modality, assessment.modality), with_results))
    modality_of = {a.pk: labels.get(a.modality, a.modality) for a in assessments}
    for message in messages:
        assessment_id = message.discussion.assessment_id
        label = modality_of.get(assessment_id)
        title = f"Message in the discussion of the {label} assessment" if label else "Message in a discussion"
        rows.append(Event(
            message.created_at, "message", title, _name(message.author),
            detail=Truncator(message.body).words(EXCERPT_WORDS), assessment_id=assessment_id, anchor="discussion",
        ))  # fmt: skip
    rows.sort(key=lambda event: event.when, reverse=True)
    capped = len(assessments) == selectors.TIMELINE_LIMIT or len(messages) == selectors.TIMELINE_LIMIT
    return rows, assessments, capped


def _assessment_events(assessment: Assessment, label: str, with_results: bool) -> list[Event]:
    requester = _name(assessment.requested_by) or (
        f"API client {assessment.requested_by_client.name}" if assessment.requested_by_client else ""
    )
    out = [Event(assessment.created_at, "requested", f"{label} assessment requested", requester,
                 assessment_id=assessment.pk)]  # fmt: skip
    outcome, stamp = OUTCOMES.get(assessment.status, ("", ""))
    when = getattr(assessment, stamp) if stamp else None
    if when:
        event = Event(when, assessment.status, f"{label} assessment {outcome}", assessment_id=assessment.pk)
        if with_results and assessment.status == Assessment.Status.COMPLETED and assessment.risk_level:
            event.badge = RISK_LEVEL_BADGES.get(assessment.risk_level, "neutral")
            event.badge_label = f"{assessment.risk_level.capitalize()} risk"
        elif with_results and assessment.status == Assessment.Status.FAILED:
            event.detail = assessment.failure_reason
        out.append(event)
    if assessment.reviewed_at:
        out.append(Event(
            assessment.reviewed_at, "signed_off", f"{label} assessment signed off", _name(assessment.reviewed_by),
            detail=assessment.review_note if with_results else "", assessment_id=assessment.pk,
        ))  # fmt: skip
    return out
