from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from accounts.access import OrganizationMixin

from . import reads, services, targets
from .export import csv_lines
from .forms import AuditFilterForm
from .selectors import organization_actions, organization_events

PAGE_SIZE = 50


def _filters(request):
    form = AuditFilterForm(request.GET or None, actions=organization_actions(request.organization))
    if form.is_bound and form.is_valid():
        return form, {k: v for k, v in form.cleaned_data.items() if v}
    return form, {}


class AuditLogView(OrganizationMixin, View):
    required_permission = "audit.view"

    def get(self, request):
        form, filters = _filters(request)
        events = organization_events(request.organization, filters=filters)
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        described = targets.describe(request.organization, page.object_list)
        rows = [(event, described.get(event.pk)) for event in page.object_list]
        shown = sorted({target.patient_id for target in described.values()})
        if shown:
            # The page names patients (name and MRN): a read of patient data like any list's.
            reads.record_list(
                action="patient.listed",
                actor=request.user,
                organization=request.organization,
                ids=shown,
                patients=shown,
                query={"source": "audit_log", "page": page.number},
            )
        status = 400 if form.is_bound and not form.is_valid() else 200
        context = {"form": form, "page_obj": page, "rows": rows}
        return render(request, "audit/log.html", context, status=status)


class AuditExportView(OrganizationMixin, View):
    """CSV of the filtered log, streamed. The export itself is audited, with the filters used."""

    required_permission = "audit.view"

    def get(self, request):
        form, filters = _filters(request)
        if form.is_bound and not form.is_valid():
            return render(request, "audit/log.html", {"form": form, "page_obj": None}, status=400)
        export = services.export_events(acting_user=request.user, organization=request.organization, filters=filters)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(csv_lines(export.events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{request.organization.slug}-{stamp}.csv"'
        return response
