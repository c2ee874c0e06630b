"""Portal pages for patients and assessments.

Every view derives from OrganizationMixin and names its permission; reads go through selectors, writes
through services. Views shape what a template shows (labels, units, ranges, chart geometry) and nothing
more: a refused write comes back from services as a ValidationError (field errors), TransitionRefused or
UploadRejected, and is shown on the re-rendered form with a 4xx status.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.access import OrganizationMixin
from medilens import storage
from modalities import registry

from . import presenters, read_audit, selectors, services
from .forms import (
    AttachmentForm,
    CommentForm,
    ModalityForm,
    PatientForm,
    SignOffForm,
    UploadsForm,
    input_groups,
    inputs_form,
)
from .models import Assessment, Patient, UploadedFile
from .presenters import FLAG_BADGES, FLAG_COLORS, RISK_LEVEL_BADGES, humanize, number
from .uploads import UploadRejected, safe_filename

PATIENTS_PER_PAGE = 25
ASSESSMENTS_PER_PAGE = 20
# How far back the patient page's trend chart looks.
TREND_DAYS = 5 * 365
DEFAULT_TREND_BIOMARKER = "pce_ascvd_10y"
# Requests sent by static/js/upload-progress.js; they get the redirect target as JSON instead of a 302,
# which XMLHttpRequest would follow itself (fetching, and auditing, the next page twice).
UPLOAD_PROGRESS_HEADER = "X-Upload-Progress"

# --- small helpers -----------------------------------------------------------------------------------
def _add_errors(form, error: ValidationError, *, rename: dict | None = None) -> None:
    """Put a service's field errors on the form's fields; the rest become the form's non-field errors."""
    rename = rename or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, errors in error.message_dict.items():
        field = rename.get(key, key)
        _add_once(form, field if field in form.fields else None, errors)


def _add_once(form, field, errors) -> None:
    """Add a service's error unless the bound form's own validation already says so (services validate
    with the same form classes, so the same problem would otherwise be listed twice)."""
    existing = form.errors.get(field or "__all__", [])
    fresh = [e for e in errors if e not in existing]
    if fresh:
        form.add_error(field, fresh)


def _duration(ms) -> str:
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _wants_json_redirect(request) -> bool:
    return request.headers.get(UPLOAD_PROGRESS_HEADER) == "1"


def _finish(request, url: str):
    """A successful POST: a redirect, or its target as JSON for the upload-progress script."""
    if _wants_json_redirect(request):
        return JsonResponse({"redirect": url})
    return redirect(url)


def _oversize_message(request) -> str | None:
    if getattr(request, "upload_over_request_limit", False):
        limit = filesizeformat(settings.MAX_REQUEST_UPLOAD_BYTES)
        return f"The files you chose total more than {limit}, the limit for one upload. Nothing was saved."
    names = getattr(request, "oversize_uploads", None)
    if not names:
        return None
    listed = ", ".join(safe_filename(n) for n in names)
    limit = filesizeformat(settings.MAX_UPLOAD_BYTES)
    return f"{listed}: larger than the {limit} limit per file. Nothing was saved."


def _max_upload_mb() -> int:
    return int(settings.MAX_UPLOAD_BYTES / (1024 * 1024))


# --- patients ----------------------------------------------------------------------------------------
class PatientListView(OrganizationMixin, View):
    required_permission = "patients.view"

    def get(self, request):
        query = request.GET.get("q", "").strip()[:100]
        latest = Assessment.objects.filter(patient=OuterRef("pk")).order_by("-created_at")
        shown = selectors.patients().annotate(
            last_assessment_id=Subquery(latest.values("id")[:1]),
            last_assessment_status=Subquery(latest.values("status")[:1]),
            last_assessment_at=Subquery(latest.values("created_at")[:1]),
        )
        # Names are sealed: the whole list goes by last activity (in SQL), a search result by name
        # (decrypted, at most SEARCH_RESULT_LIMIT rows; only the page shown is loaded whole).
        result = selectors.by_name(query) if query else None
        page_obj = Paginator(result.ids if result else shown, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
        patients = list(selectors.in_order(shown, page_obj.object_list) if result else page_obj.object_list)
        read_audit.patient_list(request=request, page=page_obj, patients=patients, search=query)
        return render(
            request,
            "assessments/patient_list.html",
            {
                "page_obj": page_obj,
                "patients": patients,
                "query": query,
                "truncated": result.truncated if result else False,
                "result_limit": selectors.SEARCH_RESULT_LIMIT,
            },
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
                _add_errors(form, error)
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
                _add_errors(form, error)
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


def _trend_chart(values: list, label: str, unit: str, spec=None) -> dict | None:
    """Geometry of a small time-series chart (inline SVG, drawn by the template): one point per value,
    the reference range shaded (for a risk score, its low-risk band), nice y ticks, dated x ticks."""
    if not values:
        return None
    width, height = 680, 260
    left, right, top, bottom = 56, 20, 20, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    latest = values[-1]
    low, high = latest.reference_low, latest.reference_high
    banded = spec is not None and spec.bands is not None
    if banded:
        low, high = 0.0, spec.bands.starts[0][0]

    numbers = [v.value for v in values]
    y_min, y_max = min(numbers), max(numbers)
    for bound in (low, high):
        if bound is not None:
            y_min, y_max = min(y_min, bound), max(y_max, bound)
    if y_min >= 0 and y_min <= 0.5 * y_max:
        y_min = 0.0  # small positive values read better from a zero baseline
    if math.isclose(y_min, y_max):
        pad = abs(y_max) * 0.1 or 1.0
        y_min, y_max = y_min - pad, y_max + pad
    step = _nice_step((y_max - y_min) / 4)
    y_lo = math.floor(y_min / step) * step
    y_hi = math.ceil(y_max / step) * step
    if y_hi - y_max < step * 0.15:
        y_hi += step  # room above the highest point for its label
    decimals = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0

    def y(v):
        return top + plot_h * (1 - (v - y_lo) / (y_hi - y_lo))

    t0, t1 = values[0].measured_at, values[-1].measured_at
    if (t1 - t0).total_seconds() < 60:
        t0, t1 = t0 - timedelta(days=1), t1 + timedelta(days=1)
    span = (t1 - t0).total_seconds()
    inset = 18  # keep the first and last points off the axes

    def x(t):
        return left + inset + (plot_w - 2 * inset) * ((t - t0).total_seconds() / span)

    y_ticks = []
    tick = y_lo
    while tick <= y_hi + step / 1000:
        y_ticks.append({"y": round(y(tick), 1), "label": f"{tick:.{decimals}f}"})
        tick += step
    x_ticks = []
    count = 1 if len(values) == 1 else min(5, len(values))
    for i in range(count):
        when = values[0].measured_at if count == 1 else t0 + (t1 - t0) * (i / (count - 1))
        x_ticks.append({"x": round(x(when), 1), "label": dateformat.format(timezone.localtime(when), "j M Y")})

    band = None
    if low is not None or high is not None:
        band_top = y(min(high, y_hi)) if high is not None else top
        band_bottom = y(max(low, y_lo)) if low is not None else top + plot_h
        band = {"y": round(band_top, 1), "height": round(max(band_bottom - band_top, 0), 1)}

    points = []
    every = math.ceil(len(values) / 10)  # label at most about ten points, and always the latest
    for i, v in enumerate(values):
        px, py = round(x(v.measured_at), 1), round(y(v.value), 1)
        points.append({
            "x": px, "y": py, "label_y": round(py - 10, 1), "value": number(v.value), "flag": v.flag,
            "color": FLAG_COLORS.get(v.flag, FLAG_COLORS["normal"]),
            "show_label": i == len(values) - 1 or i % every == 0,
            "when": timezone.localtime(v.measured_at), "assessment_id": v.assessment_id,
            "flag_badge": FLAG_BADGES.get(v.flag, "neutral"), "flag_label": v.get_flag_display(),
        })
    return {
        "width": width, "height": height, "left": left, "top": top, "right_x": width - right,
        "bottom_y": top + plot_h, "plot_w": plot_w, "plot_h": plot_h,
        "y_ticks": y_ticks, "x_ticks": x_ticks, "band": band, "points": points,
        "path": " ".join(f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(points)),
        "unit": unit, "label": label, "range_label": "Low risk" if banded else "Reference range",
        "range": (f"< {number(high)}" if banded else presenters.marker_range(latest, spec)) if band else "",
        "latest": points[-1], "first_when": points[0]["when"], "count": len(points),
    }


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


class PatientDetailView(OrganizationMixin, View):
    required_permission = "patients.view"

    def get(self, request, pk):
        patient = get_object_or_404(Patient.objects.select_related("consent_recorded_by", "created_by"), pk=pk)
        services.record_view(actor=request.user, organization=request.organization, obj=patient)
        page_obj = Paginator(selectors.patient_assessments(patient), ASSESSMENTS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        labels = dict(registry.choices())
        for assessment in page_obj.object_list:
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
        return render(request, "assessments/patient_detail.html", context)

    def trend(self, patient) -> dict:
        names = selectors.patient_biomarker_names(patient)
        if not names:
            return {"biomarker_names": []}
        wanted = self.request.GET.get("biomarker", "")
        if wanted not in names:
            wanted = DEFAULT_TREND_BIOMARKER if DEFAULT_TREND_BIOMARKER in names else names[0]
        values = list(selectors.patient_biomarker_history(patient, wanted, days=TREND_DAYS))
        spec = presenters.biomarker_spec(wanted)
        unit = values[-1].unit if values else (spec.unit if spec else "")
        choices = []
        for name in names:
            name_spec = presenters.biomarker_spec(name)
            choices.append((name, name_spec.label if name_spec else humanize(name)))
        return {
            "biomarker_names": choices,
            "biomarker": wanted,
            "biomarker_label": spec.label if spec else humanize(wanted),
            "biomarker_source": spec.source if spec else "",
            "chart": _trend_chart(values, spec.label if spec else humanize(wanted), unit, spec),
            "trend_years": TREND_DAYS // 365,
        }


# --- new assessment ----------------------------------------------------------------------------------
def _analyzer_form(analyzer, **kwargs):
    """The form of the modality's input schema (None when the portal asks for no inputs)."""
    return inputs_form(analyzer.modality.input_schema, prefix=AssessmentCreateView.input_prefix, **kwargs)


def _raw_inputs(form) -> dict:
    """The input form's fields as submitted, as text (an unticked checkbox is an explicit False, so it overrides
    the patient's record instead of falling back to it); the input schema validates them."""
    return {
        name: field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
        for name, field in form.fields.items()
    }


class AssessmentCreateView(OrganizationMixin, View):
    required_permission = "assessments.create"
    template_name = "assessments/assessment_form.html"
    input_prefix = "inputs"

    def get(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        choices = registry.choices()
        modality = request.GET.get("modality") or (choices[0][0] if len(choices) == 1 else "")
        analyzer = presenters.analyzer_for(modality) if modality else None
        if modality and analyzer is None:
            return self.render_page(patient, modality, None, None, None, status=400,
                                    page_errors=[str(registry.UnknownModality(modality))])
        read_audit.patient_form(request=request, patient=patient, page="new_assessment")
        input_form = None
        if analyzer is not None and analyzer.modality.input_schema is not None:
            initial = analyzer.modality.input_schema.initial(services.patient_facts(patient))
            input_form = _analyzer_form(analyzer, initial=initial)
        uploads = UploadsForm(analyzer=analyzer, max_upload_mb=_max_upload_mb()) if analyzer else None
        return self.render_page(patient, modality, analyzer, input_form, uploads)

    def post(self, request, pk):
        patient = get_object_or_404(Patient, pk=pk)
        files = request.FILES  # parsed already; the size-limit handler noted any file over the cap
        modality = request.POST.get("modality") or request.GET.get("modality") or ""
        analyzer = presenters.analyzer_for(modality)
        input_form = _analyzer_form(analyzer, data=request.POST) if analyzer is not None else None
        uploads = UploadsForm(request.POST, files, analyzer=analyzer, max_upload_mb=_max_upload_mb())
        sent_files, sent_attachments = files.getlist("files"), files.getlist("attachments")
        page_errors: list[str] = []
        consent_missing = False

        oversize = _oversize_message(request)
        if oversize:
            uploads.add_error(None, oversize)
            return self.render_page(patient, modality, analyzer, input_form, uploads, status=413,
                                    files_sent=True)
        try:
            assessment = services.create_assessment(
                actor=request.user,
                organization=request.organization,
                patient=patient,
                modality=modality,
                inputs=_raw_inputs(input_form) if input_form is not None else {},
                attachments=sent_attachments,
                files=sent_files,
            )
        except UploadRejected as error:
            field = "attachments"
            if "files" in uploads.fields and any(
                error.message.startswith(f"{safe_filename(f.name)}:") for f in sent_files
            ):
                field = "files"
            uploads.add_error(field, error.message)
            status = error.status
        except ValidationError as error:
            status = 400
            for key, errors in error.message_dict.items():
                name = key.removeprefix("inputs.")
                if key == "patient":
                    consent_missing = not patient.has_consent
                    page_errors.extend(errors)
                elif key in ("files", "attachments") and key in uploads.fields:
                    _add_once(uploads, key, errors)
                elif key.startswith("inputs.") and input_form is not None and name in input_form.fields:
                    input_form.add_error(name, errors)  # the input schema's words: the form itself checks nothing
                elif key == "inputs" and input_form is not None:
                    _add_once(input_form, None, errors)
                else:  # modality, or a field this page does not show
                    page_errors.extend(errors)
        else:
            messages.success(request, f"{analyzer.modality.label} assessment queued.")
            return _finish(request, reverse("assessments:assessment_detail", args=[assessment.pk]))
        return self.render_page(
            patient, modality, analyzer, input_form, uploads, status=status, page_errors=page_errors,
            consent_missing=consent_missing, files_sent=bool(sent_files or sent_attachments),
        )

    def render_page(self, patient, modality, analyzer, input_form, uploads, *, status=200, page_errors=(),
                    consent_missing=False, files_sent=False):
        request = self.request
        context = {
            "patient": patient,
            "modality": modality if analyzer else "",
            "analyzer": analyzer,
            "modality_form": ModalityForm(initial={"modality": modality if analyzer else ""}),
            "modality_choices": registry.choices(),
            "input_form": input_form,
            "input_groups": input_groups(modality, input_form) if input_form is not None else [],
            "uploads": uploads,
            "page_errors": list(page_errors),
            "consent_missing": consent_missing,
            "consent_warning": (
                not consent_missing and not patient.has_consent
                and request.organization.require_consent_for_assessment
            ),
            "files_sent": files_sent,
            "has_errors": status >= 400,
        }
        return render(request, self.template_name, context, status=status)


# --- assessment page ---------------------------------------------------------------------------------
def _stage_rows(stages) -> list:
    for stage in stages:
        stage.duration_display = _duration(stage.duration_ms)
    return stages


def _progress(assessment, stages) -> dict:
    total = len(stages)
    done = sum(1 for s in stages if s.status in ("completed", "skipped"))
    current = next((s for s in stages if s.status == "running"), None)
    return {
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "current": current,
        "polling": not assessment.is_finished,
    }


def _input_rows(analyzer, inputs: dict) -> list[dict]:
    """The stored inputs as label and value, labelled by the input schema; a value with a unit field shows its
    unit in the label (the unit field itself is not a row)."""
    schema = analyzer.modality.input_schema if analyzer else None
    fields = schema().fields if schema is not None else {}
    units = schema.unit_fields if schema is not None else {}
    rows = []
    for key, value in (inputs or {}).items():
        if isinstance(value, (dict, list)) or key in units.values():
            continue
        field = fields.get(key)
        label = str(field.label) if field is not None and field.label else humanize(key)
        if inputs.get(units.get(key)):
            label = f"{label} ({inputs[units[key]]})"
        display = number(value)
        choices = dict(getattr(field, "choices", None) or {})
        if isinstance(value, str) and value in choices:
            display = str(choices[value])
        rows.append({"label": label, "value": display})
    return rows


class AssessmentPageMixin(OrganizationMixin):
    """Loads one assessment (404 outside the organization) and renders its page, for the page itself and
    for the POSTs on it that re-render it with their form errors."""

    template_name = "assessments/assessment_detail.html"

    def get_assessment(self, pk) -> Assessment:
        queryset = selectors.with_details(Assessment.objects.all()).select_related(
            "reviewed_by", "requested_by", "requested_by_client"
        )
        return get_object_or_404(queryset, pk=pk)

    def render_page(self, assessment, *, status=200, page_errors=(), **bound_forms):
        request = self.request
        analyzer = presenters.analyzer_for(assessment.modality)
        stages = _stage_rows(list(assessment.stages.all()))
        can_results = self.has_permission("assessments.view_results")
        input_rows = _input_rows(analyzer, assessment.inputs)
        context = {
            "assessment": assessment,
            "patient": assessment.patient,
            "analyzer": analyzer,
            "modality_label": analyzer.modality.label if analyzer else assessment.modality,
            "stages": stages,
            "progress": _progress(assessment, stages),
            "input_rows": input_rows,
            "input_rows_half": (len(input_rows) + 1) // 2,
            "page_errors": list(page_errors),
            "can_results": can_results,
            "can_cancel": self.has_permission("assessments.manage")
            and assessment.status in (Assessment.Status.QUEUED, Assessment.Status.RUNNING),
            "can_retry": self.has_permission("assessments.manage") and assessment.status == Assessment.Status.FAILED,
            "can_sign_off": self.has_permission("assessments.sign_off") and assessment.is_preliminary,
            "can_attach": self.has_permission("assessments.create"),
            "can_comment": self.has_permission("comments.post"),
            "attachment_form": bound_forms.get("attachment_form") or AttachmentForm(),
            "sign_off_form": bound_forms.get("sign_off_form")
            or SignOffForm(reference_model=presenters.is_reference_result(assessment)),
            "comment_form": bound_forms.get("comment_form") or CommentForm(),
            "max_upload_mb": _max_upload_mb(),
        }
        if can_results:
            explanation = getattr(assessment, "explanation", None)
            files = list(assessment.files.all())
            context.update({
                "explanation": explanation,
                "result": presenters.result_view(assessment, explanation.contributions if explanation else []),
                "reference_model": presenters.is_reference_result(assessment),
                "reference_model_notice": presenters.REFERENCE_MODEL_NOTICE,
                "biomarker_rows": presenters.biomarker_rows(analyzer, assessment.biomarkers.all()),
                "risk_badge": RISK_LEVEL_BADGES.get(assessment.risk_level, "neutral"),
                "confidence": (
                    f"{assessment.confidence * 100:.0f}%"
                    if assessment.confidence is not None
                    else (analyzer.modality.no_confidence_reason if analyzer else "Not given")
                ),
                "recommendations": presenters.recommendations(assessment.recommendations),
                "input_files": [f for f in files if f.kind == UploadedFile.Kind.INPUT],
                "attachments": [f for f in files if f.kind == UploadedFile.Kind.ATTACHMENT],
                "thread": list(selectors.assessment_messages(assessment)),
            })
        return render(request, self.template_name, context, status=status)


class AssessmentDetailView(AssessmentPageMixin, View):
    required_permission = "assessments.view"

    def get(self, request, pk):
        assessment = self.get_assessment(pk)
        services.record_view(actor=request.user, organization=request.organization, obj=assessment)
        return self.render_page(assessment)


class AssessmentProgressView(OrganizationMixin, View):
    """The live part of the assessment page, polled by htmx while the assessment is queued or running.
    Once it has finished the fragment carries no polling attributes (so polling stops) and the response
    asks htmx to reload the page once, so the results appear."""

    required_permission = "assessments.view"

    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        stages = _stage_rows(list(assessment.stages.order_by("order")))
        response = render(
            request,
            "assessments/includes/progress.html",
            {"assessment": assessment, "stages": stages, "progress": _progress(assessment, stages)},
        )
        if assessment.is_finished and request.headers.get("HX-Request") == "true":
            response["HX-Refresh"] = "true"
        response["Cache-Control"] = "no-store"
        return response


class AssessmentCancelView(AssessmentPageMixin, View):
    required_permission = "assessments.manage"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        try:
            services.cancel_assessment(actor=request.user, assessment=assessment)
        except ValidationError as error:
            return self.render_page(assessment, status=400, page_errors=error.messages)
        messages.success(request, "The assessment was cancelled.")
        return redirect("assessments:assessment_detail", pk=assessment.pk)


class AssessmentRetryView(AssessmentPageMixin, View):
    required_permission = "assessments.manage"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        try:
            services.retry_assessment(actor=request.user, assessment=assessment)
        except ValidationError as error:
            return self.render_page(assessment, status=400, page_errors=error.messages)
        messages.success(request, "The assessment was queued again.")
        return redirect("assessments:assessment_detail", pk=assessment.pk)


class AssessmentSignOffView(AssessmentPageMixin, View):
    required_permission = "assessments.sign_off"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = SignOffForm(request.POST, reference_model=presenters.is_reference_result(assessment))
        if form.is_valid():
            try:
                services.sign_off(
                    actor=request.user,
                    assessment=assessment,
                    note=form.cleaned_data["note"],
                    acknowledge_reference_model=form.cleaned_data.get("acknowledge_reference_model", False),
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, "Results signed off. They no longer read as preliminary.")
                return redirect("assessments:assessment_detail", pk=assessment.pk)
        # A refusal on a page that no longer shows the form (already signed, not completed) goes on top.
        page_errors = form.non_field_errors() if not assessment.is_preliminary else ()
        return self.render_page(assessment, status=400, sign_off_form=form, page_errors=page_errors)


class AssessmentCommentView(AssessmentPageMixin, View):
    required_permission = "comments.post"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = CommentForm(request.POST)
        if form.is_valid():
            try:
                services.post_message(actor=request.user, assessment=assessment, body=form.cleaned_data["body"])
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, "Message posted.")
                return redirect(reverse("assessments:assessment_detail", args=[assessment.pk]) + "#discussion")
        return self.render_page(assessment, status=400, comment_form=form)


class AssessmentAttachView(AssessmentPageMixin, View):
    required_permission = "assessments.create"

    def post(self, request, pk):
        assessment = self.get_assessment(pk)
        form = AttachmentForm(request.POST, request.FILES)
        oversize = _oversize_message(request)
        if oversize:
            form.add_error(None, oversize)
            return self.render_page(assessment, status=413, attachment_form=form)
        status = 400
        if form.is_valid():
            try:
                rows = services.add_attachments(
                    actor=request.user, assessment=assessment, files=form.cleaned_data["attachments"]
                )
            except UploadRejected as error:
                form.add_error("attachments", error.message)
                status = error.status
            except ValidationError as error:
                _add_errors(form, error, rename={"files": "attachments"})
            else:
                count = len(rows)
                messages.success(request, f"{count} document{'s' if count != 1 else ''} attached.")
                return _finish(request, reverse("assessments:assessment_detail", args=[assessment.pk]) + "#files")
        return self.render_page(assessment, status=status, attachment_form=form)


# --- downloads ---------------------------------------------------------------------------------------
class FileDownloadView(OrganizationMixin, View):
    """Permission check, then a five-minute URL (audited by the service); the bytes never pass here
    when the files live in an object store."""

    required_permission = "assessments.view_results"

    def get(self, request, pk):
        uploaded = get_object_or_404(UploadedFile.objects.select_related("assessment__organization"), pk=pk)
        url = services.issue_download_url(actor=request.user, uploaded_file=uploaded)
        response = redirect(url)
        response["Cache-Control"] = "no-store"
        return response


class ExplanationImageView(OrganizationMixin, View):
    """The explanation image (a heatmap, a vessel overlay) through the same permission check and
    short-lived, audited URL as file downloads."""

    required_permission = "assessments.view_results"

    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        url = services.issue_explanation_image_url(actor=request.user, assessment=assessment)
        if url is None:
            raise Http404("This assessment has no explanation image.")
        response = redirect(url)
        response["Cache-Control"] = "no-store"
        return response


@never_cache
@require_safe
def signed_download(request, token):
    """The embedded default's download (files on the local disk). The opaque, expiring token issued by
    FileDownloadView after its permission check is the authorization: a member's link opens in that
    member's session only, an API client's without a session."""
    try:
        payload = storage.read_download_token(token, user=request.user)
    except storage.DownloadExpired:
        response = render(request, "assessments/download_expired.html", status=410)
        response["Cache-Control"] = "no-store"
        return response
    except storage.UnknownDownload:
        raise Http404("No such download.") from None
    try:
        handle = default_storage.open(payload["k"], "rb")
    except (FileNotFoundError, OSError, KeyError):
        raise Http404("No such download.") from None
    read_audit.signed_link_fetched(request=request, payload=payload)
    response = FileResponse(
        handle, as_attachment=True, filename=payload.get("f") or "download", content_type=payload.get("t")
    )
    response["Cache-Control"] = "no-store"
    return response
