"""Keeps a session in patient (kiosk) mode on the kiosk's own pages: while a patient does the cognitive battery on
the clinician's signed-in device, every other URL is answered with a redirect to the kiosk page, so a patient
cannot reach the patient list, another patient's record, the admin or the organization switcher by typing a
URL or pressing Back. Leaving needs the clinician's password (``views.KioskExitView``, through
``django.contrib.auth.authenticate`` so django-axes counts and locks out failures) or signing out.

Add to ``settings.MIDDLEWARE`` right after ``django.contrib.auth.middleware.AuthenticationMiddleware``::

    "kiosk.middleware.KioskMiddleware",
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from . import services
from .session import current


def _allowed_prefixes() -> tuple[str, ...]:
    return (reverse("kiosk:battery"), settings.STATIC_URL)


class KioskMiddleware:
    """Redirects every request of a session in kiosk mode to the kiosk page, except the kiosk's own URLs
    (all under ``/cognitive/kiosk/``), static files and sign-out. A sign-out ends kiosk mode (the session is
    flushed) and is audited as ``kiosk.exited``. Outside kiosk mode it marks signed-in HTML pages
    ``Cache-Control: no-store`` (see ``_not_stored``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        kiosk = current(request)
        if kiosk is None or not request.user.is_authenticated:
            return self._not_stored(request, self.get_response(request))
        path = request.path_info
        if path.startswith(_allowed_prefixes()):
            return self.get_response(request)
        if path == reverse("logout"):
            user = request.user
            response = self.get_response(request)
            if request.method == "POST" and current(request) is None:  # signed out: the session was flushed
                self._audit_sign_out(user, kiosk)
            return response
        response = redirect("kiosk:battery")
        response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _not_stored(request, response):
        """Signed-in pages are never kept by the browser: pressing Back in patient mode must ask the server
        (which redirects to the kiosk) instead of showing a page the clinician opened before handing the
        device over from the back-forward or HTTP cache. A view that chose its own caching keeps it."""
        if (
            "Cache-Control" not in response
            and response.get("Content-Type", "").startswith("text/html")
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
        ):
            response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _audit_sign_out(user, kiosk: dict) -> None:
        services.record_exit(actor=user, organization_id=kiosk.get("organization"), running=kiosk, via="sign_out")
