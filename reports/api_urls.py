from django.urls import path

from . import api

urlpatterns = [
    path("assessments/<uuid:pk>/report.pdf", api.AssessmentReportView.as_view(), name="assessment-report"),
]
