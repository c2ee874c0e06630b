import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

import audit
from accounts.access import OrganizationMixin

from .forms import AuditFilterForm
from .selectors import organization_events

PAGE_SIZE = 50
CSV_COLUMNS = [
    "sequence", "occurred_at", "action", "outcome", "actor_type", "actor", "target_type", "target_id",
    "ip", "request_id", "details", "hash",
]


class _Echo:
    def write(self, value):
        return value


def _filters(request):
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, {k: v for k, v in form.cleaned_data.items() if v}
    return form, {}


class AuditLogView(OrganizationMixin, View):
    required_permission = "audit.view"

    def get(self, request):
        form, filters = _filters(request)
        events = organization_events(request.organization, filters=filters)
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        status = 400 if form.is_bound and not form.is_valid() else 200
        return render(request, "audit/log.html", {"form": form, "page_obj": page}, status=status)


class AuditExportView(OrganizationMixin, View):
    """CSV of the filtered log. The export itself is audited, with the filters used."""

    required_permission = "audit.view"

    def get(self, request):
        form, filters = _filters(request)
        if form.is_bound and not form.is_valid():
            return render(request, "audit/log.html", {"form": form, "page_obj": None}, status=400)
        rows = list(organization_events(request.organization, filters=filters).iterator(chunk_size=2000))
        audit.record(
            action="audit.exported",
            actor=request.user,
            organization=request.organization,
            details={"filters": {k: str(v) for k, v in filters.items()}, "rows": len(rows)},
        )
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(CSV_COLUMNS)
            for e in rows:
                yield writer.writerow(
                    [
                        e.sequence, e.occurred_at.isoformat(), e.action, e.outcome, e.actor_type, e.actor_label,
                        e.target_type, e.target_id, e.ip or "", e.request_id, e.details, e.hash,
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{request.organization.slug}-{stamp}.csv"'
        return response
