"""The cognitive battery's portal pages, mounted at ``cognitive/``. Everything under ``kiosk/`` is what a
session in patient (kiosk) mode may reach (see modalities.kiosk)."""

from django.urls import path

from . import cognitive_views as views

app_name = "cognitive"

urlpatterns = [
    path("patients/<uuid:pk>/start/", views.CognitiveStartView.as_view(), name="start"),
    path("kiosk/", views.KioskBatteryView.as_view(), name="kiosk"),
    path("kiosk/responses/", views.KioskSubmitView.as_view(), name="submit"),
    path("kiosk/thank-you/", views.KioskDoneView.as_view(), name="done"),
    path("kiosk/exit/", views.KioskExitView.as_view(), name="exit"),
]
