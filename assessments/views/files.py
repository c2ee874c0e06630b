"""Downloads: input files and explanation images through the permission check to a short-lived, audited
URL, and the embedded default's own signed download."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.access import OrganizationMixin
from medilens import storage

from .. import read_audit, services
from ..models import Assessment, UploadedFile


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
