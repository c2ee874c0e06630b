"""Portal pages for patients: the list and its search, the record form, consent, and the patient page
with its assessments and trend chart."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.access import OrganizationMixin
from medilens.row_links import link_to
from modalities import registry

from .. import charts, patient_index, presenters, read_audit, selectors, services, timeline, trends
from ..forms import PatientForm
from ..models import Assessment, Patient
from ..presenters import RISK_LEVEL_BADGES
from .common import add_errors

PATIENTS_PER_PAGE = 25
ASSESSMENTS_PER_PAGE = 20


SORTS = {"activity": "Last activity", "risk": "Highest recent risk"}


class PatientSearchForm(forms.Form):
    """The list's search box and sort. A term written as a date that names no day is an error on the form
    (a 400 with the message beside the box), not a search that silently finds nobody."""

    q = forms.CharField(required=False, max_length=100, strip=True)
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))

    def clean_q(self):
        query = self.cleaned_data["q"].replace("\x00", "")
        problems = patient_index.malformed_dates(query)
        if problems:
            raise forms.ValidationError(problems)
        return query


class PatientListView(OrganizationMixin, View):
    required_permission = "patients.view"

    def get(self, request):
        form = PatientSearchForm(request.GET)
        if not form.is_valid():
            return self.render_page(form, Paginator([], PATIENTS_PER_PAGE).get_page(1), [], status=400)
        query = form.cleaned_data["q"]
        # A recent risk level is a result: only who may read results may sort by it.
        by_risk = form.cleaned_data["sort"] == "risk" and self.has_permission("assessments.view_results")
        latest = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-created_at")
        shown = selectors.patients().annotate(
            last_assessment_id=Subquery(latest.values("id")[:1]),
            last_assessment_status=Subquery(latest.values("status")[:1]),
            last_assessment_at=Subquery(latest.values("created_at")[:1]),
        )
        if self.has_permission("assessments.view_results"):
            shown = selectors.by_recent_risk(shown) if by_risk else selectors.with_recent_risk(shown)
        # Names are sealed: the whole list goes by last activity or risk (in SQL), a search result by name
        # (decrypted, at most SEARCH_RESULT_LIMIT rows; only the page shown is loaded whole).
        result = selectors.by_name(query) if query else None
        page_obj = Paginator(result.ids if result else shown, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
        patients = list(selectors.in_order(shown, page_obj.object_list) if result else page_obj.object_list)
        read_audit.patient_list(request=request, page=page_obj, patients=patients, search=query)
        return self.render_page(form, page_obj, patients, query=query, by_risk=by_risk,
                                truncated=result.truncated if result else False)

    def render_page(self, form, page_obj, patients, *, status=200, query="", by_risk=False, truncated=False):
        patient_link, assessment_link = link_to("assessments:patient_detail"), link_to("assessments:assessment_detail")
        for patient in patients:
            patient.risk_badge = RISK_LEVEL_BADGES.get(getattr(patient, "recent_risk_level", None), "neutral")
            patient.link = patient_link(patient.pk)
            last = getattr(patient, "last_assessment_id", None)
            patient.last_assessment_link = assessment_link(last) if last else ""
        return render(
            self.request,
            "assessments/patient_list.html",
            {
                "form": form,
                "page_obj": page_obj,
                "patients": patients,
                "query": query if form.is_valid() else form.data.get("q", ""),
                "sort": "risk" if by_risk else "activity",
                "sorts": SORTS,
                "can_results": self.has_permission("assessments.view_results"),
                "truncated": truncated,
                "result_limit": selectors.SEARCH_RESULT_LIMIT,
                "recent_risk_days": selectors.RECENT_RISK_DAYS,
            },
            status=status,
        )


class PatientCreateView(OrganizationMixin, View):
    required_permission = "patients.edit"
    template_name = "assessments/patient_form.html"

    def get(self, request):
        return self.render_form(PatientForm(with_consent=True))

    def post(self, request):
        form = PatientForm(request.POST, with_consent=True)
        if form.is_valid():
            try:
                patient = services.create_patient(
                    actor=request.user,
                    organization=request.organization,
                    consent=form.cleaned_data.get("consent", False),
                    **form.service_fields(),
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                # Flash messages travel in a cookie or the session store: no PHI in them.
                messages.success(request, "The patient was added.")
                return redirect("assessments:patient_detail", pk=patient.pk)
        return self.render_form(form, status=400)

    def render_form(self, form, status=200):
        return render(request=self.request, template_name=self.template_name,
                      context={"form": form, "patient": None}, status=status)


class PatientEditView(OrganizationMixin, View):
    required_permission = "patients.edit"
    template_name = "assessments/patient_form.html"

    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        read_audit.patient_form(request=request, patient=patient, page="edit")
        return self.render_form(patient, PatientForm(patient=patient))

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        form = PatientForm(request.POST, patient=patient)
        if form.is_valid():
            try:
                services.update_patient(actor=request.user, patient=patient, **form.service_fields())
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "The patient record was saved.")
                return redirect("assessments:patient_detail", pk=patient.pk)
        return self.render_form(patient, form, status=400)

    def render_form(self, patient, form, status=200):
        return render(self.request, self.template_name, {"form": form, "patient": patient}, status=status)


class PatientConsentView(OrganizationMixin, View):
    required_permission = "patients.edit"

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        already = patient.has_consent
        services.record_consent(actor=request.user, patient=patient)
        if already:
            messages.info(request, "Consent was already recorded for this patient.")
        else:
            messages.success(request, "Consent recorded for this patient.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            target = reverse("assessments:patient_detail", args=[patient.pk])
        return redirect(target)


class PatientDetailView(OrganizationMixin, View):
    required_permission = "patients.view"

    def get(self, request, pk):
        patient = get_object_or_404(Patient.objects.select_related("consent_recorded_by", "created_by"), pk=pk)
        services.record_view(actor=request.user, organization=request.organization, obj=patient)
        page_obj = Paginator(selectors.patient_assessments(patient), ASSESSMENTS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        labels = dict(registry.choices())
        assessment_link = link_to("assessments:assessment_detail")
        for assessment in page_obj.object_list:
            assessment.link = assessment_link(assessment.pk)
            assessment.modality_label = labels.get(assessment.modality, assessment.modality)
            assessment.risk_badge = RISK_LEVEL_BADGES.get(assessment.risk_level, "neutral")
            assessment.headline = presenters.headline(assessment)
        context = {
            "patient": patient,
            "page_obj": page_obj,
            "assessments": page_obj.object_list,
            "consent_required": request.organization.require_consent_for_assessment,
        }
        if self.has_permission("assessments.view_results"):
            context.update(self.trend(patient))
        # A biomarker that cannot be charted is said beside the picker (the rest of the page still shows).
        status = 400 if context.get("trend_errors") else 200
        return render(request, "assessments/patient_detail.html", context, status=status)

    def trend(self, patient) -> dict:
        found = trends.choices(patient)
        if not found:
            return {"biomarker_groups": []}
        picked = trends.picked(self.request.GET.getlist("biomarker"), found)
        series = trends.series(patient, picked.names, found)
        return {
            "biomarker_groups": trends.groups(found),
            "picked": picked.names,
            "picked_slots": (picked.names + ["", "", ""])[: charts.MAX_SERIES],
            "trend_errors": picked.errors,
            "biomarker_labels": [found[name].label for name in picked.names],
            "biomarker_sources": [(found[n].label, found[n].spec.source) for n in picked.names if found[n].spec],
            "chart": charts.trend_charts(series),
            "trend_years": trends.TREND_DAYS // 365,
        }


class PatientTimelineView(OrganizationMixin, View):
    """The patient's assessments, sign-offs and discussion messages in time order (a read: audited)."""

    required_permission = "patients.view"

    def get(self, request, pk):
        patient = get_object_or_404(Patient.objects.select_related("consent_recorded_by", "created_by"), pk=pk)
        with_results = self.has_permission("assessments.view_results")
        events, assessments, capped = timeline.events(patient, with_results=with_results)
        read_audit.patient_timeline(request=request, patient=patient, assessments=assessments)
        return render(request, "assessments/patient_timeline.html", {
            "patient": patient, "events": events, "capped": capped, "limit": selectors.TIMELINE_LIMIT,
            "with_results": with_results,
        })  # fmt: skip
