"""Portal pages listing the organization's assessments: the filtered, sorted list and the review worklist
(the clinician's landing page). Both are reads of patient data and are audited like the patient list."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from accounts.access import OrganizationMixin
from medilens.row_links import link_to
from modalities import registry

from .. import presenters, read_audit, worklist
from ..models import Assessment
from ..presenters import RISK_LEVEL_BADGES

ASSESSMENTS_PER_PAGE = 25
TEMPLATE = "assessments/assessment_list.html"


def decorate(request, assessments, *, show_results: bool) -> None:
    """What each row shows beyond the model's fields (labels, the headline score)."""
    labels = dict(registry.choices())
    patient_link, assessment_link = link_to("assessments:patient_detail"), link_to("assessments:assessment_detail")
    for assessment in assessments:
        assessment.link, assessment.patient_link = assessment_link(assessment.pk), patient_link(assessment.patient_id)
        assessment.modality_label = labels.get(assessment.modality, assessment.modality)
        assessment.risk_badge = RISK_LEVEL_BADGES.get(assessment.risk_level, "neutral")
        assessment.risk_label = worklist.RISK_LABELS.get(assessment.risk_level, assessment.risk_level.capitalize())
        assessment.headline = presenters.headline(assessment) if show_results else None


class AssessmentListView(OrganizationMixin, View):
    required_permission = "assessments.view"

    def get(self, request):
        results = self.has_permission("assessments.view_results")
        form = worklist.AssessmentFilterForm(request.GET or None, results=results)
        if request.GET and not form.is_valid():
            # Nothing was read: no rows, no audit event; the form says what to fix.
            return self.respond(form=form, page_obj=None, assessments=[], status=400)
        queryset = form.apply(worklist.listed(Assessment.objects.all())) if form.is_bound else (
            worklist.listed(Assessment.objects.all()).order_by(*worklist.SORTS["newest"][1])
        )
        page_obj = Paginator(queryset, ASSESSMENTS_PER_PAGE).get_page(request.GET.get("page"))
        assessments = list(page_obj.object_list)
        filters = form.active_filters() if form.is_bound else {}
        read_audit.assessment_list(request=request, page=page_obj, assessments=assessments, query=filters)
        return self.respond(form=form, page_obj=page_obj, assessments=assessments)

    def respond(self, *, form, page_obj, assessments, status=200):
        show_results = self.has_permission("assessments.view_results")
        decorate(self.request, assessments, show_results=show_results)
        context = {
            "form": form,
            "page_obj": page_obj,
            "assessments": assessments,
            "review": False,
            "show_results": show_results,
            "filtered_patient": getattr(form, "patient_record", None),
            "review_count": worklist.to_review_count() if show_results else None,
        }
        return render(self.request, TEMPLATE, context, status=status)


class ReviewWorklistView(OrganizationMixin, View):
    """Completed results not yet signed off: high risk first, the longest waiting first within a level (the
    order itself shows risk levels: it needs the results permission)."""

    required_permission = "assessments.view_results"

    def get(self, request):
        page_obj = Paginator(worklist.to_review(), ASSESSMENTS_PER_PAGE).get_page(request.GET.get("page"))
        assessments = list(page_obj.object_list)
        read_audit.assessment_list(request=request, page=page_obj, assessments=assessments, query={"view": "review"})
        show_results = self.has_permission("assessments.view_results")
        decorate(request, assessments, show_results=show_results)
        context = {
            "page_obj": page_obj,
            "assessments": assessments,
            "review": True,
            "show_results": show_results,
            "review_count": page_obj.paginator.count,
        }
        return render(request, TEMPLATE, context)
