"""The cognitive battery's portal pages, mounted at ``cognitive/``. Everything under ``kiosk/`` is what a
session in patient (kiosk) mode may reach (see kiosk.middleware)."""

from django.urls import path

from . import views

app_name = "kiosk"

urlpatterns = [
    path("patients/<uuid:pk>/start/", views.CognitiveStartView.as_view(), name="start"),
    path("kiosk/", views.KioskBatteryView.as_view(), name="battery"),
    path("kiosk/responses/", views.KioskSubmitView.as_view(), name="submit"),
    path("kiosk/thank-you/", views.KioskDoneView.as_view(), name="done"),
    path("kiosk/exit/", views.KioskExitView.as_view(), name="exit"),
]
