"""The assessments part of the organization dashboard (registered in AssessmentsConfig.ready)."""

from django.urls import reverse

from medilens.views import DASHBOARD_SECTIONS
from modalities import registry

from . import presenters, read_audit, selectors, worklist
from .models import Assessment

RECENT = 8
Status = Assessment.Status
STATUS_BADGES = {
    Status.QUEUED: "neutral",
    Status.RUNNING: "info",
    Status.COMPLETED: "success",
    Status.FAILED: "danger",
    Status.CANCELLED: "neutral",
    Status.DRAFT: "neutral",
}


def assessments_section(view) -> dict:
    if not view.has_permission("patients.view") or not view.has_permission("assessments.view"):
        return {}
    counts = selectors.status_counts()
    stats = [
        {"label": "Patients", "value": selectors.patients().count()},
        {"label": "Assessments", "value": sum(counts.values()), "url": reverse("assessments:assessment_list")},
        {"label": "Assessments in progress", "value": counts.get(Status.QUEUED, 0) + counts.get(Status.RUNNING, 0)},
    ]
    if view.has_permission("assessments.view_results"):
        stats.append({"label": "To review", "value": worklist.to_review_count(), "url": reverse("assessments:review")})
    labels = dict(registry.choices())
    recent = list(selectors.assessments().order_by("-created_at")[:RECENT])
    read_audit.dashboard(request=view.request, assessments=recent)
    for assessment in recent:
        assessment.modality_label = labels.get(assessment.modality, assessment.modality)
        assessment.headline = presenters.headline(assessment)
    return {
        "extra_stats": stats,
        "assessment_status_counts": [
            {"status": value, "label": label, "count": counts[value], "badge": STATUS_BADGES.get(value, "neutral")}
            for value, label in Status.choices
            if counts.get(value)
        ],
        "recent_assessments": recent,
        "dashboard_sections": [{"template": "assessments/dashboard_section.html"}],
    }


def register() -> None:
    if assessments_section not in DASHBOARD_SECTIONS:
        DASHBOARD_SECTIONS.append(assessments_section)
