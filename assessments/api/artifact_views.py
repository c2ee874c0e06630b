"""API v1: an assessment's result versions with their artifacts, an artifact's audited download, and the
re-analysis action. Same guard as every API view (TenantAPIView): another organization's id is a 404."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.api import TenantAPIView
from assessments import artifacts, services
from assessments.models import Assessment, ResultArtifact, ResultVersion
from audit import reads

from .views import _AssessmentAction


class ArtifactSerializer(serializers.ModelSerializer):
    format = serializers.CharField(source="format_label", help_text="e.g. 'GLB (glTF binary)', 'PNG', 'JSON'.")
    sha256 = serializers.CharField(help_text="SHA-256 of the stored bytes, hex.")

    class Meta:
        model = ResultArtifact
        fields = ["id", "name", "role", "label", "content_type", "format", "size", "sha256", "analyzer_version",
                  "created_at"]
        extra_kwargs = {"role": {"help_text": "model (3D model, GLB), viewer (the GLB the portal's 3D viewer shows), "
                                              "image (PNG, the viewer's still) or data (JSON)."}}


class ResultVersionSerializer(serializers.ModelSerializer):
    analyzer_version = serializers.CharField(source="method_version")
    signed_off = serializers.SerializerMethodField(help_text="Whether a clinician signed off this version.")
    artifacts = ArtifactSerializer(many=True, read_only=True)

    class Meta:
        model = ResultVersion
        fields = ["number", "created_at", "analyzer_version", "risk_score", "risk_level", "confidence",
                  "signed_off", "signed_off_at", "artifacts"]

    def get_signed_off(self, version) -> bool:
        return version.signed_off_at is not None


VERSIONS_SCHEMA = serializers.ListSerializer(child=ResultVersionSerializer())
DOWNLOAD_SCHEMA = {"type": "object", "properties": {"url": {"type": "string"}, "expires_in": {"type": "integer"}}}


class AssessmentArtifactsView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(
        description="Every result version of the assessment, newest first: what each analysis wrote, with its "
        "files (format, size, SHA-256, analyzer version, time) and whether it is signed off. A re-analysis adds "
        "a version; earlier ones are never changed.",
        responses=ResultVersionSerializer(many=True),
    )
    def get(self, request, pk):
        assessment = get_object_or_404(Assessment, pk=pk)
        rows = list(artifacts.versions(assessment))
        reads.record_list(
            action="artifact.listed", actor=request.auth, organization=request.organization, target=assessment,
            ids=[item.pk for row in rows for item in row.artifacts.all()], patients=[assessment.patient_id],
            query={"assessment": str(assessment.pk)},
        )
        return Response(ResultVersionSerializer(rows, many=True).data)


class ArtifactDownloadView(TenantAPIView):
    required_permission = "assessments.view_results"

    @extend_schema(
        description="A five-minute download URL for one artifact (its issue audited).", responses={200: DOWNLOAD_SCHEMA}
    )
    def get(self, request, pk):
        try:
            item = artifacts.artifact(pk)
        except ResultArtifact.DoesNotExist:
            raise NotFound("No such artifact.") from None
        url = artifacts.download_url(actor=request.auth, item=item)
        return Response({"url": request.build_absolute_uri(url) if url.startswith("/") else url, "expires_in": 300})


def _reanalyse(*, actor, assessment):
    return services.reanalyse_assessment(actor=actor, organization=assessment.organization, assessment=assessment)


class AssessmentReanalyseView(_AssessmentAction):
    """Queue a completed assessment for another analysis: its result becomes version N+1 (409 unless
    completed). The sign-off of version N stays on version N; the assessment reads as preliminary again."""

    service = staticmethod(_reanalyse)
