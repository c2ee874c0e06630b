"""The "bare" side of benchmarks/api_latency.py: DRF views over the same data with no authentication,
permission or throttling, mounted beside medilens.urls by a script-local URLconf.
"""

from __future__ import annotations

import sys
import types


def bare_urlconf(organization, api_client) -> str:
    """A URLconf module (registered in sys.modules) with the bare endpoints and medilens.urls.

    Besides the bare list and retrieve, "bare retrieve + audit" is the bare retrieve plus the
    ``assessment.viewed`` audit event the API writes (same actor): it shows how much of the API's extra
    time on a retrieve is that write, and how much is authentication, permission and throttling."""
    from django.shortcuts import get_object_or_404
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from accounts.tenancy import organization_scope, scopes_disabled
    from assessments import selectors, services
    from assessments.api.serializers import AssessmentSerializer
    from assessments.api.views import Cursor
    from assessments.models import Assessment

    # The API's keys here may view results: serialize what it serializes for them.
    full = {"view_results": True}

    def queryset():
        return selectors.with_details(Assessment.objects.with_scopes_disabled().filter(organization=organization))

    class BareAssessmentList(APIView):
        authentication_classes = []
        permission_classes = []
        throttle_classes = []

        def get(self, request):
            # with_details' prefetch querysets use the scoped managers: no scope here, so the guard is off.
            with scopes_disabled():
                paginator = Cursor()
                page = paginator.paginate_queryset(queryset(), request, self)
                data = AssessmentSerializer(page, many=True, context=full).data
                return paginator.get_paginated_response(data)

    class BareAssessmentDetail(APIView):
        authentication_classes = []
        permission_classes = []
        throttle_classes = []

        def get(self, request, pk):
            with scopes_disabled():
                assessment = get_object_or_404(queryset(), pk=pk)
                return Response(AssessmentSerializer(assessment, context=full).data)

    class BareAssessmentDetailAudited(BareAssessmentDetail):
        def get(self, request, pk):
            # The API's order: fetch, audit the read, serialize.
            with scopes_disabled():
                assessment = get_object_or_404(queryset(), pk=pk)
            with organization_scope(organization):
                services.record_view(actor=api_client, organization=organization, obj=assessment)
            with scopes_disabled():
                return Response(AssessmentSerializer(assessment, context=full).data)

    module = types.ModuleType("bench_api_latency_urls")
    module.urlpatterns = [
        path("bench/bare/assessments/", BareAssessmentList.as_view()),
        path("bench/bare/assessments/<uuid:pk>/", BareAssessmentDetail.as_view()),
        path("bench/bare-audited/assessments/<uuid:pk>/", BareAssessmentDetailAudited.as_view()),
        path("", include("medilens.urls")),
    ]
    sys.modules[module.__name__] = module
    return module.__name__
